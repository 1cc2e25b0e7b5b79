// flannel's udp data path as a small N-API addon: the TUN device (IFF_TUN | IFF_NO_PI) and the UDP
// socket are opened here, and two threads forward packets between them without ever entering
// JavaScript:
//
//   tx thread   poll(tun, stop) → read up to TX_BATCH packets (non-blocking) → classify each: a full
//               IPv4 header whose total length matches, a destination outside our own subnet with
//               a peer whose subnet holds it (longest prefix) → sendmmsg to <peer PublicIP>:<port>
//   rx thread   poll(sock, stop) → recvmmsg up to RX_BATCH datagrams → classify each: a full IPv4
//               packet for our own subnet → write to the tun
//
// On the wire every datagram carries exactly one IP packet, as flannel's does. Where the kernel
// offers it, runs of same-size packets for one peer are handed to the socket as one UDP GSO send
// (UDP_SEGMENT) and the socket receives with UDP_GRO, so the UDP/IP stack and the underlay handle
// a run as one buffer; the datagrams themselves are unchanged, and a peer without either is served
// all the same.
//
// The peer table is built by JavaScript (setTable) into a fresh immutable table and published
// through an atomic pointer (`pending`); the tx thread, the only reader of the table, takes it
// before its next batch and frees the table it replaces. Nothing on the packet path takes a lock,
// and updates never stop the loop. The rx thread needs only our own subnet: one atomic word.
//
// Counters are 64-bit atomics, each written by one thread only (a relaxed load+store, no locked
// instruction), read by stats() at any time. Anything that is not a forwardable packet is dropped
// and counted by reason; nothing a peer or a pod sends can crash the loop. A fatal error on the tun
// (the device deleted by hand) ends the tx thread and is reported by stats() (tunErrno), so the
// TypeScript side can reopen the device.
//
// close() sets the stop flag, wakes both threads through an eventfd, joins them and closes the
// fds; the kernel removes the (non-persistent) device when its last fd closes, as flannel's does.
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define TX_BATCH 64
#define RX_BATCH 32
#define BUFSZ 65536
// TUN offloads (IFF_VNET_HDR + TUNSETOFFLOAD): every TUN packet is preceded by a virtio_net_hdr,
// and the kernel may hand us TCP (and UDP) super-packets of up to 64 KB, which the tx thread cuts
// into MSS-sized IP packets itself, one per datagram as on flannel's wire.
#define VNET_SZ ((int)sizeof(struct virtio_net_hdr))
#define TXBUF (BUFSZ + 256)
#define PK_MAX 512     // packets (segments) queued for one sendmmsg round
#define HDR_ROOM 128   // room for one segment's IPv4 + TCP/UDP header (at most 60 + 60)
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
// UDP GSO: at most this many datagrams (the kernel's UDP_MAX_SEGMENTS, 64 on older kernels) and bytes per send.
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define SOCKBUF (4 * 1024 * 1024)
#define MAX_ENTRIES (1u << 20)

// ------------------------------------------------------------------------------------------ table

typedef struct {
  uint32_t net;   // host byte order, host bits clear
  uint32_t plen;
  uint32_t peer;  // network byte order
} entry_t;

typedef struct {
  uint32_t mask;
  uint32_t start;
  uint32_t count;
} group_t;

typedef struct {
  uint32_t own_net;   // host byte order
  uint32_t own_mask;  // 0: no own subnet yet
  uint32_t ngroups;
  group_t groups[33];  // one per distinct prefix length, longest first
  uint32_t n;
  entry_t e[];         // sorted by (plen desc, net asc), no duplicates
} table_t;

static uint32_t mask_of(uint32_t plen) { return plen == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - plen)); }

static int entry_cmp(const void *a, const void *b) {
  const entry_t *x = a, *y = b;
  if (x->plen != y->plen) return x->plen > y->plen ? -1 : 1;
  if (x->net != y->net) return x->net < y->net ? -1 : 1;
  return 0;
}

// words: [ownNet, ownPrefix (33+: none), then (net, prefix, peerIp) per entry], IPs as host-order
// integers. Returns NULL with *err set on bad input.
static table_t *table_build(const uint32_t *w, size_t nw, const char **err) {
  if (nw < 2 || (nw - 2) % 3 != 0) {
    *err = "table must be [ownNet, ownPrefix, (net, prefix, peer)...]";
    return NULL;
  }
  size_t n = (nw - 2) / 3;
  if (n > MAX_ENTRIES) {
    *err = "too many table entries";
    return NULL;
  }
  table_t *t = calloc(1, sizeof(table_t) + n * sizeof(entry_t));
  if (!t) {
    *err = "out of memory";
    return NULL;
  }
  if (w[1] <= 32 && w[1] > 0) {
    t->own_mask = mask_of(w[1]);
    t->own_net = w[0] & t->own_mask;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t plen = w[2 + 3 * i + 1];
    if (plen > 32) {
      free(t);
      *err = "prefix length above 32";
      return NULL;
    }
    t->e[i].plen = plen;
    t->e[i].net = w[2 + 3 * i] & mask_of(plen);
    t->e[i].peer = htonl(w[2 + 3 * i + 2]);
  }
  if (n > 1) qsort(t->e, n, sizeof(entry_t), entry_cmp);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (m > 0 && t->e[m - 1].plen == t->e[i].plen && t->e[m - 1].net == t->e[i].net) continue;  // first wins
    t->e[m++] = t->e[i];
  }
  t->n = (uint32_t)m;
  for (uint32_t i = 0; i < t->n; i++) {
    if (i == 0 || t->e[i].plen != t->e[i - 1].plen) {
      t->groups[t->ngroups].mask = mask_of(t->e[i].plen);
      t->groups[t->ngroups].start = i;
      t->groups[t->ngroups].count = 0;
      t->ngroups++;
    }
    t->groups[t->ngroups - 1].count++;
  }
  return t;
}

// Longest-prefix match: a binary search per distinct prefix length (flannel networks have one).
static const entry_t *table_lookup(const table_t *t, uint32_t dst) {
  for (uint32_t g = 0; g < t->ngroups; g++) {
    uint32_t key = dst & t->groups[g].mask;
    const entry_t *base = t->e + t->groups[g].start;
    uint32_t lo = 0, hi = t->groups[g].count;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (base[mid].net < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo < t->groups[g].count && base[lo].net == key) return &base[lo];
  }
  return NULL;
}

// ------------------------------------------------------------------------------------- classifier

enum verdict { V_FORWARD = 0, V_TRUNCATED, V_NOT_IPV4, V_BAD_LENGTH, V_LOCAL, V_UNKNOWN, V_NOT_LOCAL, V_COUNT };
static const char *VERDICT_NAMES[V_COUNT] = {"forward", "truncated", "notIPv4", "badLength", "local", "unknown", "notLocal"};

// A full IPv4 header whose total length is the packet's length; *dst in host byte order.
static enum verdict check_ipv4(const uint8_t *p, size_t n, uint32_t *dst) {
  if (n < 1) return V_TRUNCATED;
  if ((p[0] >> 4) != 4) return V_NOT_IPV4;
  if (n < 20) return V_TRUNCATED;
  size_t ihl = (size_t)(p[0] & 0x0f) * 4;
  if (ihl < 20) return V_BAD_LENGTH;
  if (n < ihl) return V_TRUNCATED;
  size_t tot = ((size_t)p[2] << 8) | p[3];
  if (tot > n) return V_TRUNCATED;
  if (tot != n || tot < ihl) return V_BAD_LENGTH;
  *dst = ((uint32_t)p[16] << 24) | ((uint32_t)p[17] << 16) | ((uint32_t)p[18] << 8) | p[19];
  return V_FORWARD;
}

static enum verdict route_tx(const table_t *t, uint32_t dst, const entry_t **peer) {
  if (t == NULL) return V_UNKNOWN;
  if (t->own_mask != 0 && (dst & t->own_mask) == t->own_net) return V_LOCAL;
  *peer = table_lookup(t, dst);
  return *peer ? V_FORWARD : V_UNKNOWN;
}

static enum verdict classify_tx(const table_t *t, const uint8_t *p, size_t n, const entry_t **peer) {
  uint32_t dst = 0;
  enum verdict v = check_ipv4(p, n, &dst);
  if (v != V_FORWARD) return v;
  if (t == NULL) return V_UNKNOWN;
  if (t->own_mask != 0 && (dst & t->own_mask) == t->own_net) return V_LOCAL;
  *peer = table_lookup(t, dst);
  return *peer ? V_FORWARD : V_UNKNOWN;
}

// own: (net << 32) | mask; mask 0 means no subnet yet, and nothing is accepted.
static enum verdict classify_rx(uint64_t own, const uint8_t *p, size_t n) {
  uint32_t dst = 0;
  enum verdict v = check_ipv4(p, n, &dst);
  if (v != V_FORWARD) return v;
  uint32_t mask = (uint32_t)own, net = (uint32_t)(own >> 32);
  if (mask == 0 || (dst & mask) != net) return V_NOT_LOCAL;
  return V_FORWARD;
}

// ------------------------------------------------------------------------------------------- loop

enum {
  TX_PACKETS, TX_BYTES, TX_DROP_TRUNCATED, TX_DROP_NOT_IPV4, TX_DROP_BAD_LENGTH, TX_DROP_LOCAL, TX_DROP_UNKNOWN,
  TX_DROP_SEND_ERROR, TX_TABLE_SWAPS, TX_COUNT
};
enum {
  RX_PACKETS, RX_BYTES, RX_DROP_TRUNCATED, RX_DROP_NOT_IPV4, RX_DROP_BAD_LENGTH, RX_DROP_NOT_LOCAL,
  RX_DROP_WRITE_ERROR, RX_RECV_ERRORS, RX_COUNT
};
static const char *TX_NAMES[TX_COUNT] = {"txPackets", "txBytes", "txDropTruncated", "txDropNotIPv4", "txDropBadLength",
                                         "txDropLocal", "txDropUnknown", "txDropSendError", "tableSwaps"};
static const char *RX_NAMES[RX_COUNT] = {"rxPackets", "rxBytes", "rxDropTruncated", "rxDropNotIPv4", "rxDropBadLength",
                                         "rxDropNotLocal", "rxDropWriteError", "rxRecvErrors"};
// verdict → counter, per direction (-1: not a drop of that direction)
static const int TX_DROP_OF[V_COUNT] = {-1, TX_DROP_TRUNCATED, TX_DROP_NOT_IPV4, TX_DROP_BAD_LENGTH, TX_DROP_LOCAL, TX_DROP_UNKNOWN, TX_DROP_UNKNOWN};
static const int RX_DROP_OF[V_COUNT] = {-1, RX_DROP_TRUNCATED, RX_DROP_NOT_IPV4, RX_DROP_BAD_LENGTH, RX_DROP_NOT_LOCAL, RX_DROP_NOT_LOCAL, RX_DROP_NOT_LOCAL};

typedef struct {
  _Alignas(64) _Atomic uint64_t c[TX_COUNT];
} tx_counters_t;
typedef struct {
  _Alignas(64) _Atomic uint64_t c[RX_COUNT];
} rx_counters_t;

typedef struct {
  int tun, sock, stopfd;
  char name[IFNAMSIZ];
  uint16_t port;  // network byte order
  pthread_t tx_thr, rx_thr;
  int tx_started, rx_started, closed;
  _Atomic int stop;
  _Atomic(table_t *) pending;
  table_t *cur;  // the tx thread's; after the join, close()'s
  _Atomic uint64_t own;
  _Atomic uint32_t entries;
  _Atomic int tx_running, rx_running;
  _Atomic int tun_errno, sock_errno;
  _Atomic int gso, gro;  // UDP segmentation offload on send / GRO on receive in use
  int vnet;              // the TUN carries a virtio_net_hdr and has offloads on (TUNSETOFFLOAD took)
  unsigned offloads;     // the TUN_F_* flags in use
  tx_counters_t tx;
  rx_counters_t rx;
} loop_t;

// Single writer per counter: no locked read-modify-write needed.
static inline void bump(_Atomic uint64_t *c, uint64_t v) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static int wait_readable(loop_t *L, int fd) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = L->stopfd, .events = POLLIN}};
  for (;;) {
    if (atomic_load_explicit(&L->stop, memory_order_acquire)) return 0;
    int r = poll(p, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (p[1].revents) return 0;
    if (p[0].revents & (POLLERR | POLLNVAL)) return -EBADFD;
    if (p[0].revents & POLLHUP) return -EPIPE;
    if (p[0].revents & POLLIN) return 1;
  }
}

// One packet read from the TUN (or cut from a super-packet), classified, waiting to be sent: its
// bytes are buf[0..hlen) followed by data[0..len-hlen) (data unused when hlen == len).
typedef struct {
  uint8_t *buf;
  uint8_t *data;
  uint32_t len;
  uint32_t hlen;
  uint32_t peer;  // network byte order
} pkt_t;

typedef struct {
  struct mmsghdr msgs[PK_MAX];
  struct iovec iov[2 * PK_MAX];
  struct sockaddr_in to[PK_MAX];
  uint32_t segs[PK_MAX];  // packets in each message
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctrl[PK_MAX];
} tx_msgs_t;

// Builds one message per packet, or, with UDP GSO, one per run of packets for the same peer of
// the same size (the last may be shorter): the kernel splits it into the same datagrams on the
// wire, but the whole run crosses the UDP/IP stack (and a GSO-capable underlay) as one.
static int tx_build(loop_t *L, tx_msgs_t *m, const pkt_t *pk, int n, int gso) {
  int k = 0, v = 0;
  for (int i = 0; i < n;) {
    uint32_t seg = pk[i].len, total = pk[i].len;
    int j = i + 1;
    if (gso) {
      while (j < n && j - i < GSO_MAX_SEGS && pk[j].peer == pk[i].peer && pk[j].len <= seg && total + pk[j].len <= GSO_MAX_BYTES) {
        total += pk[j].len;
        j++;
        if (pk[j - 1].len < seg) break;  // a shorter packet ends the run
      }
    }
    struct msghdr *h = &m->msgs[k].msg_hdr;
    memset(h, 0, sizeof *h);
    m->to[k].sin_family = AF_INET;
    m->to[k].sin_port = L->port;
    m->to[k].sin_addr.s_addr = pk[i].peer;
    h->msg_name = &m->to[k];
    h->msg_namelen = sizeof m->to[k];
    h->msg_iov = &m->iov[v];
    for (int x = i; x < j; x++) {
      m->iov[v].iov_base = pk[x].buf;
      m->iov[v].iov_len = pk[x].hlen;
      v++;
      if (pk[x].len > pk[x].hlen) {
        m->iov[v].iov_base = pk[x].data;
        m->iov[v].iov_len = pk[x].len - pk[x].hlen;
        v++;
      }
    }
    h->msg_iovlen = (size_t)(&m->iov[v] - h->msg_iov);
    if (j - i > 1) {
      h->msg_control = m->ctrl[k].buf;
      h->msg_controllen = sizeof m->ctrl[k].buf;
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t sz = (uint16_t)seg;
      memcpy(CMSG_DATA(c), &sz, sizeof sz);
    }
    m->segs[k] = (uint32_t)(j - i);
    k++;
    i = j;
  }
  return k;
}

// Sends the packets; the rest of a batch whose GSO message the kernel refuses is sent again
// packet by packet.
static void tx_send(loop_t *L, tx_msgs_t *m, const pkt_t *pk, int n) {
  int gso = atomic_load_explicit(&L->gso, memory_order_relaxed);
  int k = tx_build(L, m, pk, n, gso);
  int off = 0, first_pkt = 0, eintr = 0;
  while (off < k) {
    int s = sendmmsg(L->sock, m->msgs + off, (unsigned)(k - off), MSG_DONTWAIT);
    if (s < 0) {
      int e = errno;
      if (e == EINTR && ++eintr < 100) continue;
      if (e == EAGAIN) {
        // The socket's send buffer is full: wait for room (or close()), never block past a stop.
        struct pollfd p[2] = {{.fd = L->sock, .events = POLLOUT}, {.fd = L->stopfd, .events = POLLIN}};
        int r = poll(p, 2, 1000);
        if (r > 0 && !p[1].revents && (p[0].revents & POLLOUT) && ++eintr < 1000) continue;
        if (p[1].revents) return;
      }
      if (gso && m->segs[off] > 1 && (e == EIO || e == EINVAL || e == ENOPROTOOPT || e == EOPNOTSUPP || e == EMSGSIZE)) {
        // EMSGSIZE: packets above the path MTU (the device's MTU raised by hand); sent one by one,
        // the kernel fragments them. The others: no GSO on this path, for good.
        if (e != EMSGSIZE) atomic_store(&L->gso, 0);
        gso = 0;
        k = tx_build(L, m, pk + first_pkt, n - first_pkt, 0);
        n -= first_pkt;
        pk += first_pkt;
        off = first_pkt = 0;
        continue;
      }
      bump(&L->tx.c[TX_DROP_SEND_ERROR], m->segs[off]);  // the first message failed: skip it
      first_pkt += (int)m->segs[off];
      off++;
      continue;
    }
    uint64_t pkts = 0, bytes = 0;
    for (int i = off; i < off + s; i++) {
      pkts += m->segs[i];
      bytes += m->msgs[i].msg_len;
      first_pkt += (int)m->segs[i];
    }
    bump(&L->tx.c[TX_PACKETS], pkts);
    bump(&L->tx.c[TX_BYTES], bytes);
    off += s;
  }
}

// ------------------------------------------------------------------- checksums and segmentation

// One's-complement sum of p[0..n) as native-order 16-bit words, chained through sum (every chunk
// but the last must have an even length). Stored natively, the folded result is in network order.
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    sum += w;
    if (sum < w) sum++;
    p += 8, n -= 8;
  }
  if (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    if (sum < w) sum++;
    p += 4, n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    if (sum < w) sum++;
    p += 2, n -= 2;
  }
  if (n) {
    uint8_t t[2] = {p[0], 0};
    uint16_t w;
    memcpy(&w, t, 2);
    sum += w;
    if (sum < w) sum++;
  }
  return sum;
}

static uint16_t csum_fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}

static inline void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static inline uint32_t get16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static inline uint32_t get32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }

// The packets of one tx round: flushed (sent) when full, and at the end of the round.
typedef struct {
  loop_t *L;
  tx_msgs_t *m;
  int n;
  pkt_t pk[PK_MAX];
  uint8_t hdr[PK_MAX][HDR_ROOM];
} txq_t;

static void txq_flush(txq_t *q) {
  if (q->n > 0) tx_send(q->L, q->m, q->pk, q->n);
  q->n = 0;
}

// The next free packet slot, flushing a full queue first.
static pkt_t *txq_slot(txq_t *q) {
  if (q->n == PK_MAX) txq_flush(q);
  return &q->pk[q->n];
}

// Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at
// start+off holds the pseudo-header sum; the checksum covers [start, n). 0 on bad offsets.
static int complete_csum(uint8_t *p, size_t n, uint32_t start, uint32_t off) {
  if ((size_t)start + off + 2 > n || off & 1) return 0;
  uint16_t c = csum_fold(csum_add(0, p + start, n - start));
  if (c == 0 && off == 6 && p[9] == 17) c = 0xffff;  // UDP: 0 means "no checksum"
  memcpy(p + start + off, &c, 2);
  return 1;
}

// One packet read from an offload-enabled TUN: p[0..n) after the virtio_net_hdr h. A plain packet
// is queued as is (its checksum completed when partial); a TCPv4 (or UDPv4) super-packet is cut
// into gso_size-payload IPv4 packets, with total length, id, header checksum, TCP seq and flags,
// and the L4 checksum set per segment, as the kernel's own segmentation would.
#define TX_DROP(ctr)            \
  do {                         \
    bump(&L->tx.c[ctr], 1);    \
    return;                    \
  } while (0)

static void tx_offload_packet(txq_t *q, uint8_t *p, size_t n, const struct virtio_net_hdr *h) {
  loop_t *L = q->L;
  uint8_t gt = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  const entry_t *peer = NULL;
  if (gt == VIRTIO_NET_HDR_GSO_NONE) {
    enum verdict v = classify_tx(L->cur, p, n, &peer);
    if (v == V_FORWARD && (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !complete_csum(p, n, h->csum_start, h->csum_offset)) v = V_BAD_LENGTH;
    if (v != V_FORWARD) {
      bump(&L->tx.c[TX_DROP_OF[v]], 1);
      return;
    }
    pkt_t *s = txq_slot(q);
    s->buf = p, s->data = NULL, s->len = s->hlen = (uint32_t)n, s->peer = peer->peer;
    q->n++;
    return;
  }
  // A super-packet: IPv4, a full IP and L4 header, the protocol its GSO type says.
  if (n < 1) TX_DROP(TX_DROP_TRUNCATED);
  if ((p[0] >> 4) != 4) TX_DROP(TX_DROP_NOT_IPV4);
  if (n < 20) TX_DROP(TX_DROP_TRUNCATED);
  size_t ihl = (size_t)(p[0] & 0x0f) * 4, l4;
  if (ihl < 20) TX_DROP(TX_DROP_BAD_LENGTH);
  int tcp = gt == VIRTIO_NET_HDR_GSO_TCPV4;
  if ((!tcp && gt != VIRTIO_NET_HDR_GSO_UDP_L4) || p[9] != (tcp ? 6 : 17)) TX_DROP(TX_DROP_BAD_LENGTH);
  if (n < ihl + (tcp ? 20 : 8)) TX_DROP(TX_DROP_TRUNCATED);
  l4 = tcp ? (size_t)(p[ihl + 12] >> 4) * 4 : 8;
  if (l4 < (tcp ? 20u : 8u)) TX_DROP(TX_DROP_BAD_LENGTH);
  size_t hl = ihl + l4;
  if (n < hl) TX_DROP(TX_DROP_TRUNCATED);
  size_t mss = h->gso_size;
  if (hl > HDR_ROOM || mss == 0 || hl + mss > 65535) TX_DROP(TX_DROP_BAD_LENGTH);
  enum verdict v = route_tx(L->cur, get32(p + 16), &peer);
  if (v != V_FORWARD) TX_DROP(TX_DROP_OF[v]);
  uint32_t peer_ip = peer->peer;
  size_t pay = n - hl;
  size_t nseg = pay == 0 ? 1 : (pay + mss - 1) / mss;
  uint32_t id = get16(p + 4), seq = tcp ? get32(p + ihl + 4) : 0;
  uint8_t pseudo[12];
  memcpy(pseudo, p + 12, 8);
  pseudo[8] = 0, pseudo[9] = p[9];
  for (size_t i = 0; i < nseg; i++) {
    size_t off = hl + i * mss, plen = pay == 0 ? 0 : (n - off < mss ? n - off : mss);
    pkt_t *s = txq_slot(q);
    uint8_t *hd = q->hdr[q->n];
    memcpy(hd, p, hl);
    put16(hd + 2, (uint32_t)(hl + plen));
    put16(hd + 4, (uint32_t)(id + i) & 0xffff);
    hd[10] = hd[11] = 0;
    uint16_t c = csum_fold(csum_add(0, hd, ihl));
    memcpy(hd + 10, &c, 2);
    uint8_t *l = hd + ihl;
    if (tcp) {
      uint32_t sq = seq + (uint32_t)(i * mss);
      l[4] = (uint8_t)(sq >> 24), l[5] = (uint8_t)(sq >> 16), l[6] = (uint8_t)(sq >> 8), l[7] = (uint8_t)sq;
      if (i + 1 < nseg) l[13] &= (uint8_t)~0x09;  // FIN, PSH: last segment only
      if (i > 0) l[13] &= (uint8_t)~0x80;         // CWR: first segment only
      l[16] = l[17] = 0;
    } else {
      put16(l + 4, (uint32_t)(8 + plen));
      l[6] = l[7] = 0;
    }
    put16(pseudo + 10, (uint32_t)(l4 + plen));
    uint64_t sum = csum_add(csum_add(0, pseudo, 12), l, l4);
    c = csum_fold(csum_add(sum, p + off, plen));
    if (!tcp && c == 0) c = 0xffff;
    memcpy(l + (tcp ? 16 : 6), &c, 2);
    s->buf = hd, s->hlen = (uint32_t)hl, s->data = p + off, s->len = (uint32_t)(hl + plen), s->peer = peer_ip;
    q->n++;
  }
}

static void *tx_main(void *arg) {
  loop_t *L = arg;
  pthread_setname_np(pthread_self(), "flannel-udp-tx");
  uint8_t *bufs = malloc((size_t)TX_BATCH * TXBUF);
  tx_msgs_t *m = malloc(sizeof *m);
  txq_t *q = malloc(sizeof *q);
  if (!bufs || !m || !q) {
    free(bufs), free(m), free(q);
    atomic_store(&L->tun_errno, ENOMEM);
    atomic_store(&L->tx_running, 0);
    return NULL;
  }
  q->L = L, q->m = m, q->n = 0;
  const size_t hdr = L->vnet ? (size_t)VNET_SZ : 0;
  for (;;) {
    int w = wait_readable(L, L->tun);
    if (w <= 0) {
      if (w < 0) atomic_store(&L->tun_errno, -w);
      break;
    }
    table_t *fresh = atomic_exchange_explicit(&L->pending, NULL, memory_order_acq_rel);
    if (fresh) {
      free(L->cur);
      L->cur = fresh;
      bump(&L->tx.c[TX_TABLE_SWAPS], 1);
    }
    int fatal = 0, nb = 0;
    q->n = 0;
    for (int reads = 0; reads < TX_BATCH; reads++) {
      uint8_t *buf = bufs + (size_t)nb * TXBUF;
      ssize_t len = read(L->tun, buf, TXBUF);
      if (len < 0) {
        if (errno == EINTR) continue;
        if (errno == EFAULT || errno == EMSGSIZE) {  // a packet larger than the buffer: dropped by the kernel
          bump(&L->tx.c[TX_DROP_TRUNCATED], 1);
          continue;
        }
        if (errno != EAGAIN) fatal = errno;
        break;
      }
      if (len == 0) break;
      if (hdr) {
        if ((size_t)len < hdr) {
          bump(&L->tx.c[TX_DROP_TRUNCATED], 1);
          continue;
        }
        struct virtio_net_hdr vh;
        memcpy(&vh, buf, sizeof vh);
        tx_offload_packet(q, buf + hdr, (size_t)len - hdr, &vh);
        nb++;  // the buffer may hold queued packets until the round's flush
        continue;
      }
      const entry_t *peer = NULL;
      enum verdict v = classify_tx(L->cur, buf, (size_t)len, &peer);
      if (v != V_FORWARD) {
        bump(&L->tx.c[TX_DROP_OF[v]], 1);
        continue;
      }
      pkt_t *s = txq_slot(q);
      s->buf = buf, s->data = NULL, s->len = s->hlen = (uint32_t)len, s->peer = peer->peer;
      q->n++;
      nb++;
    }
    txq_flush(q);
    if (fatal) {
      atomic_store(&L->tun_errno, fatal);
      break;
    }
  }
  free(bufs);
  free(m);
  free(q);
  atomic_store(&L->tx_running, 0);
  return NULL;
}

typedef union {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} rx_ctrl_t;

// The segment size of a GRO-coalesced datagram (UDP_GRO), or 0.
static size_t gro_size(struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int sz;
      memcpy(&sz, CMSG_DATA(c), sizeof sz);
      return sz > 0 ? (size_t)sz : 0;
    }
  }
  return 0;
}

// Writes one packet to the TUN, behind a zero virtio_net_hdr (no offload: the kernel checks the
// checksums itself) when the device has one.
static ssize_t tun_write(loop_t *L, uint8_t *p, size_t n) {
  if (!L->vnet) return write(L->tun, p, n);
  static const struct virtio_net_hdr zero;
  struct iovec v[2] = {{.iov_base = (void *)&zero, .iov_len = sizeof zero}, {.iov_base = p, .iov_len = n}};
  return writev(L->tun, v, 2);
}

// RX coalescing (with offloads): consecutive in-order TCP segments of one flow, received in one
// recvmmsg round, are joined into one super-packet and written to the TUN with a TCPv4 GSO
// virtio_net_hdr (checksum left partial for the kernel), as the kernel's GRO would: same
// addresses, ports, ack, window, options and IP fields, ACK (PSH on the last) only, every segment
// gso bytes but the last. Anything else is written as it came, behind a zero header.
typedef struct {
  uint8_t buf[VNET_SZ + 65536];
  size_t len;  // IP bytes at buf + VNET_SZ; 0: nothing pending
  size_t ihl, thl, gso;
  uint32_t next_seq;
  uint32_t segs;
  int closed;  // a short or PSH segment was appended: nothing may follow
} gro_t;

static void gro_flush(loop_t *L, gro_t *g, uint64_t *pkts, uint64_t *bytes) {
  if (g->len == 0) return;
  uint8_t *p = g->buf + VNET_SZ;
  ssize_t r;
  if (g->segs == 1) {
    r = tun_write(L, p, g->len);
  } else {
    put16(p + 2, (uint32_t)g->len);
    p[10] = p[11] = 0;
    uint16_t c = csum_fold(csum_add(0, p, g->ihl));
    memcpy(p + 10, &c, 2);
    uint8_t pseudo[12];
    memcpy(pseudo, p + 12, 8);
    pseudo[8] = 0, pseudo[9] = 6;
    put16(pseudo + 10, (uint32_t)(g->len - g->ihl));
    c = (uint16_t)~csum_fold(csum_add(0, pseudo, 12));  // the pseudo-header sum, not complemented
    memcpy(p + g->ihl + 16, &c, 2);
    struct virtio_net_hdr h = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
        .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
        .hdr_len = (uint16_t)(g->ihl + g->thl),
        .gso_size = (uint16_t)g->gso,
        .csum_start = (uint16_t)g->ihl,
        .csum_offset = 16,
    };
    memcpy(g->buf, &h, sizeof h);
    r = write(L->tun, g->buf, VNET_SZ + g->len);
  }
  if (r < 0) {
    bump(&L->rx.c[RX_DROP_WRITE_ERROR], g->segs);
  } else {
    *pkts += g->segs;
    *bytes += g->len + (size_t)(g->segs - 1) * (g->ihl + g->thl);
  }
  g->len = 0;
}

// Appends p (a valid IPv4 packet for us) to the pending super-packet if it continues it.
static int gro_append(gro_t *g, const uint8_t *p, size_t n) {
  if (g->len == 0 || g->closed) return 0;
  const uint8_t *s = g->buf + VNET_SZ;
  size_t ihl = g->ihl, hl = g->ihl + g->thl;
  if (n <= hl || p[0] != s[0] || p[1] != s[1] || p[6] != s[6] || p[7] != s[7] || p[8] != s[8] || p[9] != 6) return 0;
  if (memcmp(p + 12, s + 12, 8) != 0) return 0;                          // addresses
  const uint8_t *t = p + ihl, *u = s + ihl;
  if (memcmp(t, u, 4) != 0 || get32(t + 4) != g->next_seq) return 0;     // ports, in order
  if (memcmp(t + 8, u + 8, 5) != 0 || memcmp(t + 14, u + 14, 2) != 0) return 0;  // ack, doff, window
  if ((t[13] & ~0x08) != 0x10) return 0;                                  // ACK (+PSH) only
  if (g->thl > 20 && memcmp(t + 20, u + 20, g->thl - 20) != 0) return 0;  // options
  size_t pay = n - hl;
  if (pay > g->gso || g->len + pay > 65535) return 0;
  memcpy(g->buf + VNET_SZ + g->len, p + hl, pay);
  g->len += pay;
  g->next_seq += (uint32_t)pay;
  g->segs++;
  if (t[13] & 0x08) g->buf[VNET_SZ + ihl + 13] |= 0x08;
  if (pay < g->gso || (t[13] & 0x08)) g->closed = 1;
  return 1;
}

// Starts a super-packet with p if it can begin one (a plain ACK TCP segment with data, unfragmented).
static int gro_start(gro_t *g, const uint8_t *p, size_t n) {
  if (n < 40 || p[0] != 0x45 || p[9] != 6 || (get16(p + 6) & 0x3fff) != 0) return 0;
  size_t thl = (size_t)(p[20 + 12] >> 4) * 4;
  if (thl < 20 || 20 + thl >= n || p[20 + 13] != 0x10) return 0;
  memcpy(g->buf + VNET_SZ, p, n);
  g->len = n;
  g->ihl = 20;
  g->thl = thl;
  g->gso = n - 20 - thl;
  g->next_seq = get32(p + 24) + (uint32_t)g->gso;
  g->segs = 1;
  g->closed = 0;
  return 1;
}

static void *rx_main(void *arg) {
  loop_t *L = arg;
  pthread_setname_np(pthread_self(), "flannel-udp-rx");
  uint8_t *bufs = malloc((size_t)RX_BATCH * BUFSZ);
  struct mmsghdr msgs[RX_BATCH];
  struct iovec iov[RX_BATCH];
  rx_ctrl_t ctrl[RX_BATCH];
  gro_t *g = L->vnet ? malloc(sizeof *g) : NULL;
  if (g) g->len = 0;
  if (!bufs || (L->vnet && !g)) {
    free(bufs), free(g);
    atomic_store(&L->sock_errno, ENOMEM);
    atomic_store(&L->rx_running, 0);
    return NULL;
  }
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < RX_BATCH; i++) {
    iov[i].iov_base = bufs + (size_t)i * BUFSZ;
    iov[i].iov_len = BUFSZ;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  for (;;) {
    int w = wait_readable(L, L->sock);
    if (w <= 0) {
      if (w < 0) atomic_store(&L->sock_errno, -w);
      break;
    }
    for (int i = 0; i < RX_BATCH; i++) {
      msgs[i].msg_hdr.msg_control = ctrl[i].buf;
      msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
      msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(L->sock, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      bump(&L->rx.c[RX_RECV_ERRORS], 1);
      if (errno == EBADF || errno == ENOTSOCK || errno == EFAULT || errno == EINVAL) {
        atomic_store(&L->sock_errno, errno);
        break;
      }
      continue;  // e.g. a queued ICMP error: the socket itself is fine
    }
    uint64_t own = atomic_load_explicit(&L->own, memory_order_relaxed);
    uint64_t pkts = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
      size_t len = msgs[i].msg_len;
      uint8_t *buf = iov[i].iov_base;
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        bump(&L->rx.c[RX_DROP_BAD_LENGTH], 1);
        continue;
      }
      // A GRO-coalesced run is the peer's datagrams back to back, each gso bytes (the last may be shorter).
      size_t seg = gro_size(&msgs[i].msg_hdr);
      if (seg == 0 || seg > len) seg = len;
      size_t off = 0;
      do {
        size_t l = len - off < seg ? len - off : seg;
        enum verdict v = classify_rx(own, buf + off, l);
        if (v != V_FORWARD) {
          bump(&L->rx.c[RX_DROP_OF[v]], 1);
        } else if (g && gro_append(g, buf + off, l)) {
          // joined the pending super-packet
        } else if (g && (gro_flush(L, g, &pkts, &bytes), gro_start(g, buf + off, l))) {
          // begins a new one
        } else if (tun_write(L, buf + off, l) < 0) {
          bump(&L->rx.c[RX_DROP_WRITE_ERROR], 1);
        } else {
          pkts++;
          bytes += l;
        }
        off += l;
      } while (off < len);
    }
    if (g) gro_flush(L, g, &pkts, &bytes);
    bump(&L->rx.c[RX_PACKETS], pkts);
    bump(&L->rx.c[RX_BYTES], bytes);
  }
  free(bufs);
  free(g);
  atomic_store(&L->rx_running, 0);
  return NULL;
}

static void loop_stop(loop_t *L) {
  if (L->closed) return;
  L->closed = 1;
  atomic_store_explicit(&L->stop, 1, memory_order_release);
  uint64_t one = 1;
  if (L->stopfd >= 0 && write(L->stopfd, &one, sizeof one) < 0) { /* the flag alone ends them at the next wake-up */ }
  if (L->tx_started) pthread_join(L->tx_thr, NULL);
  if (L->rx_started) pthread_join(L->rx_thr, NULL);
  L->tx_started = L->rx_started = 0;
  free(L->cur);
  L->cur = NULL;
  free(atomic_exchange(&L->pending, NULL));
  if (L->sock >= 0) close(L->sock);
  if (L->tun >= 0) close(L->tun);
  if (L->stopfd >= 0) close(L->stopfd);
  L->sock = L->tun = L->stopfd = -1;
}

// ----------------------------------------------------------------------------------------- N-API

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "ENAPI", "N-API call failed: " #call);     \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, const char *syscall, int err, const char *what) {
  const char *code = strerrorname_np(err);
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s: %s", syscall, what ? what : "", strerror(err));
  napi_value m, c, e, s;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, e, "syscall", s);
  napi_value en;
  napi_create_int32(env, err, &en);
  napi_set_named_property(env, e, "errno", en);
  napi_throw(env, e);
  return NULL;
}

static void finalize_loop(napi_env env, void *data, void *hint) {
  loop_t *L = data;
  loop_stop(L);
  free(L);
}

static loop_t *get_loop(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) {
    napi_throw_type_error(env, NULL, "expected a loop handle");
    return NULL;
  }
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return p;
}

static int get_u32_words(napi_env env, napi_value v, const uint32_t **words, size_t *n) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) {
    napi_throw_type_error(env, NULL, "expected a Uint32Array");
    return 0;
  }
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &off) != napi_ok || type != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "expected a Uint32Array");
    return 0;
  }
  *words = data;
  *n = len;
  return 1;
}

// open(name: string, bindIp: string, port: number, offload = true): { handle, name }
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "open(name, bindIp, port[, offload])");
    return NULL;
  }
  bool offload = true;
  if (argc >= 4) {
    napi_valuetype t;
    if (napi_typeof(env, argv[3], &t) == napi_ok && t == napi_boolean) napi_get_value_bool(env, argv[3], &offload);
  }
  char name[IFNAMSIZ + 1] = {0}, ip[64] = {0};
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "device name must be 1 to 15 characters");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "bindIp must be a string");
    return NULL;
  }
  uint32_t port;
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port == 0 || port > 65535) {
    napi_throw_range_error(env, NULL, "port must be 1..65535");
    return NULL;
  }
  struct sockaddr_in bind_addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, ip, &bind_addr.sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "bindIp must be an IPv4 address");
    return NULL;
  }

  loop_t *L = calloc(1, sizeof *L);
  if (!L) return throw_errno(env, "calloc", ENOMEM, NULL);
  L->tun = L->sock = L->stopfd = -1;
  L->port = htons((uint16_t)port);

  // With offloads: IFF_VNET_HDR and TUNSETOFFLOAD (checksum, TSO4, USO where the kernel has it).
  // Should any step fail, the device is closed (and so removed) and opened again without them.
  struct ifreq ifr;
  for (int attempt = offload ? 0 : 1; attempt < 2; attempt++) {
    L->tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (L->tun < 0) {
      int e = errno;
      loop_stop(L), free(L);
      return throw_errno(env, "open", e, "/dev/net/tun");
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (attempt == 0 ? IFF_VNET_HDR : 0);
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(L->tun, TUNSETIFF, &ifr) < 0) {
      int e = errno;
      if (attempt == 0 && e == EINVAL) {
        close(L->tun), L->tun = -1;
        continue;
      }
      loop_stop(L), free(L);
      return throw_errno(env, "ioctl(TUNSETIFF)", e, name);
    }
    if (attempt == 1) break;
    int hsz = VNET_SZ;
    unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN, off = base | TUN_F_USO4 | TUN_F_USO6;
    if (ioctl(L->tun, TUNSETVNETHDRSZ, &hsz) == 0 &&
        (ioctl(L->tun, TUNSETOFFLOAD, off) == 0 || ioctl(L->tun, TUNSETOFFLOAD, off = base) == 0)) {
      L->vnet = 1;
      L->offloads = off;
      break;
    }
    close(L->tun), L->tun = -1;
  }
  memcpy(L->name, ifr.ifr_name, IFNAMSIZ);
  L->name[IFNAMSIZ - 1] = 0;

  L->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (L->sock < 0) {
    int e = errno;
    loop_stop(L), free(L);
    return throw_errno(env, "socket", e, NULL);
  }
  int on = 1, sz = SOCKBUF;
  // No SO_REUSEADDR: with it, a second flanneld would share the port and half the datagrams.
  if (setsockopt(L->sock, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0) setsockopt(L->sock, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(L->sock, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0) setsockopt(L->sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  // Batches the UDP/IP stack's work (datagrams on the wire are unchanged); off where unsupported.
  atomic_store(&L->gso, 1);
  atomic_store(&L->gro, setsockopt(L->sock, SOL_UDP, UDP_GRO, &on, sizeof on) == 0);
  if (bind(L->sock, (struct sockaddr *)&bind_addr, sizeof bind_addr) < 0) {
    int e = errno;
    loop_stop(L), free(L);
    char what[96];
    snprintf(what, sizeof what, "%s:%u", ip, port);
    return throw_errno(env, "bind", e, what);
  }
  L->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (L->stopfd < 0) {
    int e = errno;
    loop_stop(L), free(L);
    return throw_errno(env, "eventfd", e, NULL);
  }

  atomic_store(&L->tx_running, 1);
  atomic_store(&L->rx_running, 1);
  int e = pthread_create(&L->tx_thr, NULL, tx_main, L);
  if (e == 0) {
    L->tx_started = 1;
    e = pthread_create(&L->rx_thr, NULL, rx_main, L);
    if (e == 0) L->rx_started = 1;
  }
  if (e != 0) {
    loop_stop(L), free(L);
    return throw_errno(env, "pthread_create", e, NULL);
  }

  napi_value handle, out, nm;
  if (napi_create_external(env, L, finalize_loop, NULL, &handle) != napi_ok) {
    loop_stop(L), free(L);
    napi_throw_error(env, "ENAPI", "napi_create_external failed");
    return NULL;
  }
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_string_utf8(env, L->name, NAPI_AUTO_LENGTH, &nm));
  CHECK(napi_set_named_property(env, out, "handle", handle));
  CHECK(napi_set_named_property(env, out, "name", nm));
  return out;
}

// setTable(handle, words: Uint32Array): number of entries after de-duplication
static napi_value js_set_table(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "setTable(handle, words)");
    return NULL;
  }
  loop_t *L = get_loop(env, argv[0]);
  if (!L) return NULL;
  if (L->closed) {
    napi_throw_error(env, "ECLOSED", "the loop is closed");
    return NULL;
  }
  const uint32_t *w;
  size_t nw;
  if (!get_u32_words(env, argv[1], &w, &nw)) return NULL;
  const char *err = NULL;
  table_t *t = table_build(w, nw, &err);
  if (!t) {
    napi_throw_range_error(env, NULL, err);
    return NULL;
  }
  uint32_t entries = t->n;
  atomic_store_explicit(&L->own, ((uint64_t)t->own_net << 32) | t->own_mask, memory_order_relaxed);
  // A table the tx thread has not taken yet was never used: free it here.
  free(atomic_exchange_explicit(&L->pending, t, memory_order_acq_rel));
  atomic_store(&L->entries, entries);
  napi_value r;
  CHECK(napi_create_uint32(env, entries, &r));
  return r;
}

static int set_num(napi_env env, napi_value obj, const char *k, double v) {
  napi_value x;
  return napi_create_double(env, v, &x) == napi_ok && napi_set_named_property(env, obj, k, x) == napi_ok;
}

// stats(handle): counters, thread states and fatal errnos
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "stats(handle)");
    return NULL;
  }
  loop_t *L = get_loop(env, argv[0]);
  if (!L) return NULL;
  napi_value o, b;
  CHECK(napi_create_object(env, &o));
  for (int i = 0; i < TX_COUNT; i++) set_num(env, o, TX_NAMES[i], (double)atomic_load_explicit(&L->tx.c[i], memory_order_relaxed));
  for (int i = 0; i < RX_COUNT; i++) set_num(env, o, RX_NAMES[i], (double)atomic_load_explicit(&L->rx.c[i], memory_order_relaxed));
  set_num(env, o, "tableEntries", atomic_load(&L->entries));
  set_num(env, o, "tunErrno", atomic_load(&L->tun_errno));
  set_num(env, o, "sockErrno", atomic_load(&L->sock_errno));
  CHECK(napi_get_boolean(env, atomic_load(&L->gso), &b));
  CHECK(napi_set_named_property(env, o, "gso", b));
  CHECK(napi_get_boolean(env, atomic_load(&L->gro), &b));
  CHECK(napi_set_named_property(env, o, "gro", b));
  CHECK(napi_get_boolean(env, L->vnet, &b));
  CHECK(napi_set_named_property(env, o, "offload", b));
  CHECK(napi_get_boolean(env, !L->closed && atomic_load(&L->tx_running) && atomic_load(&L->rx_running), &b));
  CHECK(napi_set_named_property(env, o, "running", b));
  return o;
}

// close(handle): stops both threads and closes the fds; idempotent
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "close(handle)");
    return NULL;
  }
  loop_t *L = get_loop(env, argv[0]);
  if (!L) return NULL;
  loop_stop(L);
  return NULL;
}

// classify(direction: 'tx' | 'rx', packet: Uint8Array, words: Uint32Array): { verdict, peer? }
// The loop's own classifier and lookup, for tests; no device or thread involved.
static napi_value js_classify(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "classify(direction, packet, words)");
    return NULL;
  }
  char dir[4] = {0};
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], dir, sizeof dir, &len));
  bool is;
  CHECK(napi_is_typedarray(env, argv[1], &is));
  if (!is) {
    napi_throw_type_error(env, NULL, "packet must be a Uint8Array");
    return NULL;
  }
  napi_typedarray_type type;
  size_t plen, off;
  void *pdata;
  napi_value ab;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &plen, &pdata, &ab, &off));
  if (type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "packet must be a Uint8Array");
    return NULL;
  }
  const uint32_t *w;
  size_t nw;
  if (!get_u32_words(env, argv[2], &w, &nw)) return NULL;
  const char *err = NULL;
  table_t *t = table_build(w, nw, &err);
  if (!t) {
    napi_throw_range_error(env, NULL, err);
    return NULL;
  }
  const entry_t *peer = NULL;
  enum verdict v = V_COUNT;
  char peer_ip[INET_ADDRSTRLEN] = {0};
  if (strcmp(dir, "tx") == 0) v = classify_tx(t, pdata, plen, &peer);
  else if (strcmp(dir, "rx") == 0) v = classify_rx(((uint64_t)t->own_net << 32) | t->own_mask, pdata, plen);
  if (peer) inet_ntop(AF_INET, &peer->peer, peer_ip, sizeof peer_ip);
  free(t);
  if (v == V_COUNT) {
    napi_throw_type_error(env, NULL, "direction must be 'tx' or 'rx'");
    return NULL;
  }
  napi_value o, s;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_string_utf8(env, VERDICT_NAMES[v], NAPI_AUTO_LENGTH, &s));
  CHECK(napi_set_named_property(env, o, "verdict", s));
  if (peer_ip[0]) {
    CHECK(napi_create_string_utf8(env, peer_ip, NAPI_AUTO_LENGTH, &s));
    CHECK(napi_set_named_property(env, o, "peer", s));
  }
  return o;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"setTable", NULL, js_set_table, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"classify", NULL, js_classify, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
