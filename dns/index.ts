// Cluster DNS (kube-dns): the zone of services and pods, the answer logic, the upstream forwarder and
// cache, and the server's sockets. The kubelet takes resolv.conf's reading and writing from here.
export { parseResolvConf, renderResolvConf, upstreamServers, type ResolvConf } from './resolv-conf.js';
export { canonical, inDomain, reverseName, addressOfReverse, dashed, undashed, expandIPv6, compressIPv6 } from './names.js';
export { recordsOf, parseDnsService, parseDnsEndpoints, type DnsService, type DnsEndpoints, type DnsEndpointAddress } from './records.js';
export { Zone } from './zone.js';
export { decide, refusal, formerrFor, responseTo, encodeForUdp, udpLimit, soaRecord, RCODE, EDNS_UDP_SIZE, type Decision } from './respond.js';
export { AnswerCache, cacheKey, ttlOf } from './cache.js';
export { Forwarder, type Upstream } from './upstream.js';
export { DnsServer, type DnsServerOptions } from './server.js';
export { followCluster, type ZoneSync } from './kube.js';
export { addDnsOptions, dnsOptions, type DnsOptions, type ApiConn } from './options.js';
