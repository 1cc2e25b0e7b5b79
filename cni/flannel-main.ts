// Entry point of the `flannel` CNI plugin (dist/cni/flannel runs this file with Node).
import { FLANNEL_PLUGIN_INFO, flannelPlugin, realFlannelDeps } from './flannel.js';
import { pluginMain } from './skel.js';

await pluginMain(flannelPlugin(realFlannelDeps()), FLANNEL_PLUGIN_INFO);
