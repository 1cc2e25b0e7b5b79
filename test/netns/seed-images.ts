// Seed 000's images, `dbforweb` and `webwithdb`, made on a node from the lab's busybox image (the seed
// `docker import`s them on each node): the commands its RCs run, /usr/bin/mysqld_safe and /usr/sbin/httpd,
// are shell scripts over busybox. The db answers HTTP on 3306 with its pod name; the web serves the seed's
// index.html ("The Web Server is Running") and /cgi-bin/action, which asks the db through the service
// variables of db-service. Both keep serving for a few seconds after SIGTERM (as a preStop sleep would) so
// that kube-proxy has removed their endpoint before they stop listening. (Not `wget -T`: this busybox's wget
// crashes with it.)
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUSYBOX_IMAGE, type Dockerd } from './docker.js';

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

/** Commits `<name>` on the node from busybox plus the files (path → [text, mode]). */
async function commitImage(d: Dockerd, stageDir: string, name: string, files: Record<string, readonly [string, number]>): Promise<void> {
  const stage = path.join(stageDir, name.replace(/[^A-Za-z0-9.-]/g, '_'));
  await rm(stage, { recursive: true, force: true });
  for (const [f, [text, mode]] of Object.entries(files)) {
    await mkdir(path.join(stage, path.dirname(f)), { recursive: true });
    await writeFile(path.join(stage, f), text, { mode });
  }
  const box = `mk-${stage.split(path.sep).pop()!}`;
  await d.dockerExec(['rm', '-f', box]);
  await d.docker(['create', '--name', box, '--network', 'none', BUSYBOX_IMAGE, 'true']);
  try {
    await d.docker(['cp', `${stage}/.`, `${box}:/`]);
    await d.docker(['commit', box, name], { timeoutMs: 60_000 });
  } finally {
    await d.dockerExec(['rm', '-f', box]);
    await rm(stage, { recursive: true, force: true });
  }
}

/** Makes `dbforweb` and `webwithdb` (and `webwithdb:<tag>` for each extra tag) on the node. */
export async function makeSeedImages(d: Dockerd, stageDir: string, webTags: readonly string[] = []): Promise<void> {
  await commitImage(d, stageDir, 'dbforweb', { 'usr/bin/mysqld_safe': [MYSQLD_SAFE, 0o755] });
  for (const tag of ['latest', ...webTags]) {
    await commitImage(d, stageDir, `webwithdb:${tag}`, { 'usr/sbin/httpd': [webHttpd(webBanner(tag)), 0o755], 'usr/share/seed/action': [ACTION, 0o755] });
  }
}
