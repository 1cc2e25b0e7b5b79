// Seed 000's images, `dbforweb` and `webwithdb`, made from the lab's busybox root file system and
// `docker import`ed on each node, as the seed imported them (images.ts); the lab tests and the demo share
// them. The commands its RCs run, /usr/bin/mysqld_safe and /usr/sbin/httpd, are shell scripts over busybox. The db answers HTTP on 3306 with its pod name; the web serves the seed's
// index.html ("The Web Server is Running") and /cgi-bin/action, which asks the db through the service
// variables of db-service. Both keep serving for a few seconds after SIGTERM (as a preStop sleep would) so
// that kube-proxy has removed their endpoint before they stop listening. (Not `wget -T`: this busybox's wget
// crashes with it.)
import type { Dockerd } from './docker.js';
import { busyboxImageTar, type ImageFiles, importImage } from './images.js';

/** Seconds a seed server keeps serving after SIGTERM. */
export const SEED_DRAIN_SECONDS = 3;

const serve = (port: number, root: string) =>
  `trap 'sleep ${SEED_DRAIN_SECONDS}; kill $p; exit 0' TERM
/bin/busybox httpd -f -p ${port} -h ${root} & p=$!
wait $p
`;

const MYSQLD_SAFE = `#!/bin/sh
# seed 000's db, over busybox: answers its pod name on 3306
mkdir -p /db && hostname > /db/index.html
${serve(3306, '/db')}`;

const webHttpd = (banner: string) => `#!/bin/sh
# seed 000's web (httpd -D FOREGROUND), over busybox
mkdir -p /www/cgi-bin
echo '${banner}' > /www/index.html
cp /usr/share/seed/action /www/cgi-bin/action
${serve(80, '/www')}`;

const ACTION = `#!/bin/sh
echo 'Content-Type: text/html'
echo
if timeout 3 wget -qO- "http://$DB_SERVICE_SERVICE_HOST:$DB_SERVICE_SERVICE_PORT/" >/dev/null 2>&1; then r=Success; else r=Failure; fi
printf '<html>\\n<head>\\n<title>My Application</title>\\n</head>\\n<body>\\n<h2>%s</h2>\\n</body>\\n</html>\\n' "$r"
`;

/** The web's index.html for an image tag: the seed's line, with the tag after it for a newer image. */
export const webBanner = (tag = 'latest'): string => `The Web Server is Running${tag === 'latest' ? '' : ` ${tag}`}`;

/** Seed 000's images: name → the files they add to busybox. */
export function seedImageFiles(webTags: readonly string[] = []): [string, ImageFiles][] {
  return [
    ['dbforweb', { 'usr/bin/mysqld_safe': [MYSQLD_SAFE, 0o755] }],
    ...['latest', ...webTags].map((tag): [string, ImageFiles] => [`webwithdb:${tag}`, { 'usr/sbin/httpd': [webHttpd(webBanner(tag)), 0o755], 'usr/share/seed/action': [ACTION, 0o755] }]),
  ];
}

/**
 * Makes `dbforweb` and `webwithdb` (and `webwithdb:<tag>` for each extra tag) on every node given, as the seed
 * did: a root file system tar (made once, in `stageDir`) `docker import`ed on each. Returns the tars by image.
 */
export async function makeSeedImages(nodes: Dockerd | readonly Dockerd[], stageDir: string, webTags: readonly string[] = []): Promise<Map<string, string>> {
  const daemons = Array.isArray(nodes) ? (nodes as readonly Dockerd[]) : [nodes as Dockerd];
  const tars = new Map<string, string>();
  for (const [name, files] of seedImageFiles(webTags)) {
    const tar = await busyboxImageTar(stageDir, name, files);
    tars.set(name, tar);
    await Promise.all(daemons.map((d) => importImage(d, tar, name)));
  }
  return tars;
}
