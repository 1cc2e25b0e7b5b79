// Entry point of the `host-local` CNI IPAM plugin (dist/cni/host-local runs this file with Node).
import { HOST_LOCAL_PLUGIN_INFO, hostLocalPlugin } from './host-local.js';
import { pluginMain } from './skel.js';

await pluginMain(hostLocalPlugin(), HOST_LOCAL_PLUGIN_INFO);
