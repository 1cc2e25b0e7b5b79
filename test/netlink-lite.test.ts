// netlink/link-lite.ts against the package's full parse: the same Link from every link the kernel
// reports here (a read-only dump of this namespace's links) and from encoded vxlan/bridge links
// with the attributes the lite reader skips; bad payloads are errors that say what is wrong.
import { describe, expect, it } from 'vitest';
import { encodeBody, kindLinkInfo, parseLink, vxlanLinkInfo } from '../netlink/codec.js';
import { LinkPayloadError, parseLinkLite } from '../netlink/link-lite.js';
import { Protocol, createNetlink, rt } from '../netlink/pkg.js';

const full = (payload: Buffer) => parseLink(rt.parseMessage(16, payload) as rt.LinkMessage);
const lite = (payload: Buffer) => parseLink(parseLinkLite(payload));

function linkPayload(attrs: rt.LinkMessage['attrs'], data: rt.LinkMessage['data']): Buffer {
  return Buffer.concat(encodeBody({ kind: 'link', data, attrs }));
}

describe('parseLinkLite', () => {
  it("gives parseLink what the package's parser gives it, for this namespace's links", async () => {
    const sock = createNetlink(Protocol.ROUTE);
    try {
      const [msgs] = await sock.request(18, Buffer.alloc(16), { flags: 0x300 | 0x1 });
      const links = msgs.filter((m) => m.type === 16);
      expect(links.length).toBeGreaterThan(0); // lo at least
      for (const m of links) expect(lite(m.data)).toEqual(full(m.data));
    } finally {
      sock.close();
    }
  });

  it('reads index, up, name, MTU, MAC and vxlan info past the attributes it skips', () => {
    const vx = linkPayload(
      {
        ifname: 'flannel.1',
        mtu: 1450,
        address: Buffer.from([0x0e, 1, 2, 3, 4, 5]),
        qdisc: 'noqueue',
        txqlen: 1000,
        linkinfo: vxlanLinkInfo({ vni: 1, port: 8472, learning: false, gbp: false, local: '192.0.2.11', dev: 2 }),
      },
      { index: 7, flags: { up: true } },
    );
    expect(lite(vx)).toEqual(full(vx));
    expect(lite(vx)).toMatchObject({ index: 7, name: 'flannel.1', mtu: 1450, up: true, kind: 'vxlan', mac: '0e:01:02:03:04:05', vxlan: { vni: 1, port: 8472 } });
    const br = linkPayload({ ifname: 'cni0', linkinfo: kindLinkInfo('bridge') }, { index: 9, flags: {} });
    expect(lite(br)).toEqual(full(br));
    expect(lite(br)).toMatchObject({ index: 9, name: 'cni0', up: false, kind: 'bridge' });
  });

  it('rejects a short header or an attribute running past the end', () => {
    expect(() => parseLinkLite(Buffer.alloc(8))).toThrow(LinkPayloadError);
    const p = linkPayload({ ifname: 'eth0' }, { index: 2 });
    p.writeUInt16LE(200, 16); // the first attribute claims 200 bytes
    expect(() => parseLinkLite(p)).toThrow(/Invalid attribute length \(200\)/);
  });
});
