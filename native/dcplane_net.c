/*
 * dcplane_net: the socket operations Node's dgram module cannot do.
 *
 *  - openUdpSocket(ifname, port, bufferBytes?): a UDP socket bound to
 *    0.0.0.0:port and, when ifname is given, to that interface with
 *    SO_BINDTODEVICE. Broadcasts that arrive on the interface are delivered to
 *    this socket only, and replies (broadcast included) leave through it, as
 *    RFC 2131 section 4.1 requires of a server on a multi-homed host. The fd is
 *    handed to dgram with socket.bind({ fd }).
 *  - setArp(ifname, ip, mac): installs a neighbour entry so that a DHCPOFFER or
 *    DHCPACK can be unicast to a client that has no address yet ("the server
 *    unicasts DHCPOFFER and DHCPACK messages to the client's hardware address
 *    and 'yiaddr' address", RFC 2131 section 4.1), as dnsmasq does.
 *  - sendBatch(fd, packets, ips, ports, start, end): sends packets[start..end)
 *    to ips[i]:ports[i] with sendmmsg(2), one system call for a whole batch of
 *    replies (an event-loop turn's OFFERs, a committed batch's ACKs) instead
 *    of one sendmsg and one libuv request each through dgram.
 *  - startReceiver(fd, slab, meta, slotBytes, onPackets, onWritable): reads
 *    the socket with recvmmsg(2) whenever it is readable and hands JS a batch
 *    at a time (one call per up to meta.length / 3 datagrams), in place of
 *    dgram's one allocation, one address string and one callback per
 *    datagram. setWritable/stopReceiver/socketBuffers go with it.
 *
 *  - TFTP transfer sockets: openBoundSocket/connectSocket/localPort make a
 *    transfer's own port (its TID) bound to the server's address and
 *    connected to the client; sendPackets sends on a connected socket (one
 *    send(2), or sendmmsg(2) for a window), straight from the JS Buffers.
 *  - A socket group (createGroup/groupAdd/groupWatchWritable/groupRemove/
 *    stopGroup): one epoll set of many sockets behind one libuv poll handle.
 *    Whenever any is readable, every ready socket is read with recvmmsg and
 *    JS gets one call per batch, tagged with each socket's id, in place of
 *    dgram's allocation, address string and callback per datagram per
 *    socket. A boot storm's hundreds of transfer sockets cost one callback
 *    per event-loop turn.
 *  - A pump on a member (pumpArm/pumpCollect): the steady state of a
 *    lock-step read answered in C. An in-order ACK of the block last sent
 *    makes the addon send the next block (from a Buffer, or read ahead from
 *    a file descriptor) without a call into JS; anything else (another
 *    packet, the final ACK, a failed read or send) stops the pump and goes
 *    to JS, which collects what the pump did before it handles it.
 *
 * Errors are thrown as JS errors with `code` set to the errno name and
 * `syscall` to the call that failed.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <stdlib.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <time.h>
#include <sched.h>

static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENXIO: return "ENXIO";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENETDOWN: return "ENETDOWN";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, text, error, sys, num;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
  return NULL;
}

static int get_ifname(napi_env env, napi_value v, char buf[IFNAMSIZ]) {
  char tmp[IFNAMSIZ + 1] = {0};
  size_t len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return -1;
  /* A name of IFNAMSIZ or more would be cut by the copy: refuse it, never bind to a prefix. */
  if (napi_get_value_string_utf8(env, v, tmp, sizeof tmp, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) return -1;
  memcpy(buf, tmp, len + 1);
  return (int)len;
}

/*
 * Asks for `bytes` of socket buffer. The *FORCE variants (CAP_NET_ADMIN) pass
 * net.core.rmem_max/wmem_max, which are often far below what a burst of
 * thousands of DISCOVERs needs; without the capability the plain option gives
 * what the sysctl allows. A smaller buffer than asked for is not an error.
 */
static void set_buffer(int fd, int force_opt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0) {
    (void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
  }
}

/* openUdpSocket(ifname: string | null, port: number, bufferBytes?: number): number (fd) */
static napi_value open_udp_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) { napi_throw_type_error(env, "EINVAL", "openUdpSocket(ifname, port, bufferBytes?)"); return NULL; }

  char ifname[IFNAMSIZ] = {0};
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  int bind_dev = 0;
  if (t == napi_string) {
    if (get_ifname(env, argv[0], ifname) < 0) { napi_throw_type_error(env, "EINVAL", "bad interface name"); return NULL; }
    bind_dev = 1;
  } else if (t != napi_null && t != napi_undefined) {
    napi_throw_type_error(env, "EINVAL", "interface name must be a string or null");
    return NULL;
  }
  uint32_t port = 0;
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535) {
    napi_throw_type_error(env, "EINVAL", "bad port");
    return NULL;
  }
  uint32_t buffer_bytes = 0;
  if (argc >= 3) {
    napi_typeof(env, argv[2], &t);
    if (t != napi_undefined && (napi_get_value_uint32(env, argv[2], &buffer_bytes) != napi_ok || buffer_bytes > (1u << 30))) {
      napi_throw_type_error(env, "EINVAL", "bad buffer size");
      return NULL;
    }
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  /*
   * No SO_REUSEADDR: sockets bound to different devices never conflict on
   * Linux, so one per interface binds without it, and leaving it off makes a
   * second DHCP server on the same interface (another dcplane, dnsmasq, Kea)
   * a clear EADDRINUSE instead of two servers silently splitting the traffic.
   */
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) {
    int e = errno; close(fd); return throw_errno(env, "setsockopt(SO_BROADCAST)", e);
  }
  if (bind_dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) {
    int e = errno; close(fd); return throw_errno(env, "setsockopt(SO_BINDTODEVICE)", e);
  }
  if (buffer_bytes > 0) {
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, (int)buffer_bytes);
    set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, (int)buffer_bytes);
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno; close(fd); return throw_errno(env, "bind", e);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

/*
 * One AF_INET socket for every SIOCSARP, opened on first use: setArp runs
 * once per OFFER/ACK, so it costs one ioctl, not socket+ioctl+close.
 */
static int arp_fd = -1;

static int get_arp_fd(void) {
  int fd = __atomic_load_n(&arp_fd, __ATOMIC_ACQUIRE);
  if (fd >= 0) return fd;
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int expected = -1;
  if (!__atomic_compare_exchange_n(&arp_fd, &expected, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    close(fd);
    return expected;
  }
  return fd;
}

/* An IPv4 address from JS: dotted text, or a number in host order. */
static int get_ipv4(napi_env env, napi_value v, struct in_addr *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_number) {
    double d = 0;
    napi_get_value_double(env, v, &d);
    if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) return -1;
    out->s_addr = htonl((uint32_t)d);
    return 0;
  }
  char ip[32] = {0};
  size_t len = 0;
  if (t != napi_string || napi_get_value_string_utf8(env, v, ip, sizeof ip, &len) != napi_ok || len == 0 || inet_pton(AF_INET, ip, out) != 1) return -1;
  return 0;
}

/* setArp(ifname: string, ip: string | number (host order), mac: Uint8Array): void */
static napi_value set_arp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) { napi_throw_type_error(env, "EINVAL", "setArp(ifname, ip, mac)"); return NULL; }
  char ifname[IFNAMSIZ] = {0};
  if (get_ifname(env, argv[0], ifname) < 0) { napi_throw_type_error(env, "EINVAL", "bad interface name"); return NULL; }

  struct arpreq req;
  memset(&req, 0, sizeof req);
  struct sockaddr_in *pa = (struct sockaddr_in *)&req.arp_pa;
  pa->sin_family = AF_INET;
  if (get_ipv4(env, argv[1], &pa->sin_addr) < 0) { napi_throw_type_error(env, "EINVAL", "bad ip"); return NULL; }

  bool is_ta = false;
  napi_is_typedarray(env, argv[2], &is_ta);
  if (!is_ta) { napi_throw_type_error(env, "EINVAL", "mac must be a Uint8Array"); return NULL; }
  napi_typedarray_type ta_type;
  size_t maclen = 0;
  void *mac = NULL;
  napi_get_typedarray_info(env, argv[2], &ta_type, &maclen, &mac, NULL, NULL);
  if (ta_type != napi_uint8_array || maclen < 6 || maclen > sizeof req.arp_ha.sa_data) {
    napi_throw_type_error(env, "EINVAL", "bad mac");
    return NULL;
  }
  req.arp_ha.sa_family = ARPHRD_ETHER;
  memcpy(req.arp_ha.sa_data, mac, maclen);
  /* ATF_COM without ATF_PERM: a reachable entry that ages out like a learnt one. */
  req.arp_flags = ATF_COM;
  memcpy(req.arp_dev, ifname, strlen(ifname) + 1);
  int fd = get_arp_fd();
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (ioctl(fd, SIOCSARP, &req) < 0) return throw_errno(env, "ioctl(SIOCSARP)", errno);
  return NULL;
}

/* Packets per sendmmsg call; a longer batch takes several calls. */
#define SEND_CHUNK 64

/*
 * Points iov[0..n) at the Buffers packets[at..at+n) and msgs[k] at iov[k]
 * (no address: the caller sets msg_name for an unconnected send). Throws
 * and returns -1 when an element is not a Buffer.
 */
static int packets_to_msgs(napi_env env, napi_value packets, uint32_t at, uint32_t n, struct mmsghdr *msgs, struct iovec *iov) {
  for (uint32_t k = 0; k < n; k++) {
    napi_value el;
    void *data = NULL;
    size_t len = 0;
    bool is_buffer = false;
    if (napi_get_element(env, packets, at + k, &el) != napi_ok || napi_is_buffer(env, el, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, el, &data, &len) != napi_ok) {
      napi_throw_type_error(env, "EINVAL", "packets must be Buffers");
      return -1;
    }
    iov[k].iov_base = data;
    iov[k].iov_len = len;
    memset(&msgs[k], 0, sizeof msgs[k]);
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
  }
  return 0;
}

/* Reads the (fd, packets, ..., start, end) arguments both send calls take; -1 (thrown) when they are bad. */
static int send_args(napi_env env, napi_value fdv, napi_value packets, napi_value startv, napi_value endv, int32_t *fd, uint32_t *start, uint32_t *end) {
  uint32_t length = 0;
  bool is_array = false;
  if (napi_get_value_int32(env, fdv, fd) != napi_ok || *fd < 0 ||
      napi_is_array(env, packets, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, packets, &length) != napi_ok ||
      napi_get_value_uint32(env, startv, start) != napi_ok ||
      napi_get_value_uint32(env, endv, end) != napi_ok || *start > *end || *end > length) {
    return -1;
  }
  return 0;
}

/* What a send call returns: how many were sent, or -errno when none was. */
static napi_value send_result(napi_env env, uint32_t sent, int err) {
  napi_value out;
  if (sent == 0 && err != 0) napi_create_int32(env, -err, &out);
  else napi_create_uint32(env, sent, &out);
  return out;
}

/*
 * Sends packets[start..end): to ips[i]:ports[i], or on a connected socket
 * when ips is NULL. Returns what sendBatch and sendPackets return.
 */
static napi_value send_loop(napi_env env, int fd, napi_value packets, uint32_t start, uint32_t end, const uint32_t *ips, const uint16_t *ports) {
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  struct sockaddr_in addrs[SEND_CHUNK];
  uint32_t sent = 0;
  uint32_t at = start;
  while (at < end) {
    uint32_t n = end - at < SEND_CHUNK ? end - at : SEND_CHUNK;
    if (packets_to_msgs(env, packets, at, n, msgs, iov) < 0) return NULL;
    for (uint32_t k = 0; ips != NULL && k < n; k++) {
      memset(&addrs[k], 0, sizeof addrs[k]);
      addrs[k].sin_family = AF_INET;
      addrs[k].sin_port = htons(ports[at + k]);
      addrs[k].sin_addr.s_addr = htonl(ips[at + k]);
      msgs[k].msg_hdr.msg_name = &addrs[k];
      msgs[k].msg_hdr.msg_namelen = sizeof addrs[k];
    }
    int r;
    do {
      /* One packet on a connected socket (a lock-step block): send(2) spares the kernel sendmmsg's loop. */
      if (ips == NULL && n == 1) r = send(fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT) < 0 ? -1 : 1;
      else r = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return send_result(env, sent, errno);
    sent += (uint32_t)r;
    at += (uint32_t)r;
    if ((uint32_t)r < n) break;
  }
  return send_result(env, sent, 0);
}

/*
 * sendBatch(fd: number, packets: Buffer[], ips: Uint32Array (host order),
 *           ports: Uint16Array, start: number, end: number): number
 *
 * Returns how many packets from `start` on the kernel accepted (> 0), or
 * -errno when it refused the packet at `start` (EAGAIN: the send buffer is
 * full; anything else is about that packet's destination). A return below
 * end - start means the packet after the last one sent was not sent: the
 * caller decides what to do with it and calls again for the rest.
 */
static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) { napi_throw_type_error(env, "EINVAL", "sendBatch(fd, packets, ips, ports, start, end)"); return NULL; }
  int32_t fd = -1;
  uint32_t start = 0, end = 0;
  if (send_args(env, argv[0], argv[1], argv[4], argv[5], &fd, &start, &end) < 0) {
    napi_throw_type_error(env, "EINVAL", "bad sendBatch arguments");
    return NULL;
  }
  napi_typedarray_type ip_type, port_type;
  size_t ip_len = 0, port_len = 0;
  void *ip_data = NULL, *port_data = NULL;
  bool ta1 = false, ta2 = false;
  napi_is_typedarray(env, argv[2], &ta1);
  napi_is_typedarray(env, argv[3], &ta2);
  if (!ta1 || !ta2 ||
      napi_get_typedarray_info(env, argv[2], &ip_type, &ip_len, &ip_data, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &port_type, &port_len, &port_data, NULL, NULL) != napi_ok ||
      ip_type != napi_uint32_array || port_type != napi_uint16_array || ip_len < end || port_len < end) {
    napi_throw_type_error(env, "EINVAL", "ips must be a Uint32Array and ports a Uint16Array covering end");
    return NULL;
  }
  const uint32_t *ips = ip_data;
  const uint16_t *ports = port_data;

  return send_loop(env, fd, argv[1], start, end, ips, ports);
}

/*
 * The receiver: a libuv poll handle on the socket, and the JS side's slab
 * (slot i holds datagram i of a batch) and meta array ([length, source ip
 * (host order), source port, flags] per datagram; flags bit 0: truncated to
 * the slot). The JS objects are held by references until the handle closes.
 */
#define META_FIELDS 4
#define RECV_BATCH_MAX 256
/* Batches read per readiness event before the loop gets a turn: a flood cannot starve timers and the lease writer's answers. */
#define RECV_ROUNDS 4
/* Poll errors in a row (no datagram read between them) after which the receiver gives up and says so (-EIO). */
#define POLL_ERRORS_MAX 64

/*
 * What the receiver and the socket group share: a libuv poll handle on one
 * descriptor, the JS slab and meta arrays batches land in, and the JS
 * callbacks, all held by references until the handle closes. Their structs
 * start with it; the handle's data points at the owner, freed on close.
 */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  int stopped;
  uint8_t *slab;
  size_t slot_bytes;
  uint32_t *meta;
  uint32_t slots;
  napi_ref slab_ref, meta_ref;
  napi_ref cb[2];
  int ncb;
  napi_async_context actx;
  /* Which handle this is (HANDLE_RECEIVER, HANDLE_GROUP): a handle of one kind given where the other is wanted is refused. */
  int kind;
  /*
   * Owners of this memory: the libuv handle until it has closed, and the JS
   * handle (an external) until it is collected. Freed when both are done, so
   * a call made with a handle after stop finds `stopped` set, not freed memory.
   */
  int refs;
} poller_t;

#define HANDLE_RECEIVER 1
#define HANDLE_GROUP 2

static void poller_release(poller_t *p) {
  if (--p->refs == 0) free(p);
}

static void poller_closed(uv_handle_t *h) {
  poller_release(h->data);
}

/* Calls callback `which` (with arg when has_arg) from the event loop: microtasks and process.nextTick run after it. */
static void poller_call(poller_t *p, int which, int has_arg, int32_t arg) {
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  napi_get_reference_value(env, p->cb[which], &fn);
  napi_get_global(env, &recv);
  if (has_arg) napi_create_int32(env, arg, &argv[0]);
  if (napi_make_callback(env, p->actx, recv, fn, has_arg ? 1 : 0, argv, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void poller_stop(poller_t *p) {
  if (p->stopped) return;
  p->stopped = 1;
  uv_poll_stop(&p->poll);
  napi_delete_reference(p->env, p->slab_ref);
  napi_delete_reference(p->env, p->meta_ref);
  for (int i = 0; i < p->ncb; i++) napi_delete_reference(p->env, p->cb[i]);
  napi_async_destroy(p->env, p->actx);
  uv_close((uv_handle_t *)&p->poll, poller_closed);
}

/* The arguments of a poller: slab (a Buffer), meta (a Uint32Array), slot size and ncb callbacks. */
typedef struct {
  napi_value slab, meta, slot_bytes;
  napi_value cb[2];
  int ncb;
  uint32_t fields;
  uint32_t min_slots, max_slots;
} poller_args_t;

/*
 * Allocates `size` bytes for an owner that starts with a poller_t, sets the
 * poller up on fd from `a` and starts polling for `events`. Throws (with
 * `usage` for bad arguments) and returns NULL when it cannot.
 */
static poller_t *poller_start(napi_env env, size_t size, int fd, const poller_args_t *a, const char *name, int events, uv_poll_cb on_event, const char *usage) {
  uint32_t slot_bytes = 0;
  void *slab = NULL, *meta = NULL;
  size_t slab_len = 0, meta_len = 0;
  bool is_buffer = false, is_ta = false;
  napi_typedarray_type meta_type;
  napi_is_buffer(env, a->slab, &is_buffer);
  napi_is_typedarray(env, a->meta, &is_ta);
  int fns = 1;
  for (int i = 0; i < a->ncb; i++) {
    napi_valuetype t;
    if (napi_typeof(env, a->cb[i], &t) != napi_ok || t != napi_function) fns = 0;
  }
  if (!is_buffer || !is_ta || !fns || napi_get_value_uint32(env, a->slot_bytes, &slot_bytes) != napi_ok || slot_bytes == 0 ||
      napi_get_buffer_info(env, a->slab, &slab, &slab_len) != napi_ok ||
      napi_get_typedarray_info(env, a->meta, &meta_type, &meta_len, &meta, NULL, NULL) != napi_ok || meta_type != napi_uint32_array) {
    napi_throw_type_error(env, "EINVAL", usage);
    return NULL;
  }
  size_t slots = slab_len / slot_bytes;
  if (meta_len / a->fields < slots) slots = meta_len / a->fields;
  if (slots > a->max_slots) slots = a->max_slots;
  if (slots < a->min_slots) { napi_throw_type_error(env, "EINVAL", "slab and meta hold too few slots"); return NULL; }
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) { napi_throw_error(env, "EINVAL", "no event loop"); return NULL; }
  poller_t *p = calloc(1, size);
  if (p == NULL) { throw_errno(env, "calloc", ENOMEM); return NULL; }
  p->env = env;
  p->slab = slab;
  p->slot_bytes = slot_bytes;
  p->meta = meta;
  p->slots = (uint32_t)slots;
  int e = uv_poll_init(loop, &p->poll, fd);
  if (e < 0) { free(p); throw_errno(env, "uv_poll_init", -e); return NULL; }
  p->poll.data = p;
  p->refs = 1;
  napi_create_reference(env, a->slab, 1, &p->slab_ref);
  napi_create_reference(env, a->meta, 1, &p->meta_ref);
  p->ncb = a->ncb;
  for (int i = 0; i < a->ncb; i++) napi_create_reference(env, a->cb[i], 1, &p->cb[i]);
  napi_value res_name;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &res_name);
  napi_async_init(env, NULL, res_name, &p->actx);
  e = uv_poll_start(&p->poll, events, on_event);
  if (e < 0) {
    poller_stop(p);
    throw_errno(env, "uv_poll_start", -e);
    return NULL;
  }
  return p;
}

/* The poller behind a handle of `kind`; NULL when v is not one (another external, the other kind of handle). */
static void *get_external(napi_env env, napi_value v, int kind) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  if (p == NULL || ((poller_t *)p)->kind != kind) return NULL;
  return p;
}

/* The one argument of a call that takes a receiver or group handle; NULL (thrown) when it is not one. */
static void *handle_arg(napi_env env, napi_callback_info info, int kind, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = argc >= 1 ? get_external(env, argv[0], kind) : NULL;
  if (p == NULL) napi_throw_type_error(env, "EINVAL", usage);
  return p;
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  poller_release(data);
}

/* The JS handle of a started poller of `kind`: it keeps the poller's memory until collected (see poller_t.refs). */
static napi_value make_external(napi_env env, poller_t *p, int kind) {
  napi_value out;
  p->kind = kind;
  if (napi_create_external(env, p, handle_finalize, NULL, &out) != napi_ok) return NULL;
  p->refs++;
  return out;
}

/* Reads up to n datagrams of fd with recvmmsg into slab slots first..first+n; recvmmsg's result (-1: errno). */
static int recv_into_slots(poller_t *p, int fd, uint32_t first, uint32_t n, struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_in *addrs) {
  for (uint32_t k = 0; k < n; k++) {
    iov[k].iov_base = p->slab + (size_t)(first + k) * p->slot_bytes;
    iov[k].iov_len = p->slot_bytes;
    memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
    msgs[k].msg_hdr.msg_name = &addrs[k];
    msgs[k].msg_hdr.msg_namelen = sizeof addrs[k];
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    msgs[k].msg_len = 0;
  }
  int r;
  do {
    r = recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL);
  } while (r < 0 && errno == EINTR);
  return r;
}

#define ON_PACKETS 0
#define ON_WRITABLE 1

typedef struct {
  poller_t p;
  int fd;
  int events;
  /* Poll errors since the last datagram read: bounds the restarts of a socket that keeps failing. */
  int poll_errors;
} receiver_t;

static void receiver_cleanup_hook(void *arg) {
  poller_stop(arg);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  receiver_t *r = h->data;
  if (status < 0) {
    /*
     * libuv stops the handle on POLLERR and hands over the error; left so,
     * the interface would never be read again. A UDP socket's pending
     * error (an ICMP report, a link going down) is cleared by reading
     * SO_ERROR, then polling resumes. One that keeps failing is given up
     * after POLL_ERRORS_MAX in a row, reported as -EIO so JS can say so.
     */
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    poller_call(&r->p, ON_PACKETS, 1, status);
    if (r->p.stopped) return;
    if (++r->poll_errors > POLL_ERRORS_MAX) {
      poller_call(&r->p, ON_PACKETS, 1, -EIO);
      return;
    }
    int e = uv_poll_start(&r->p.poll, r->events, on_poll);
    if (e < 0) poller_call(&r->p, ON_PACKETS, 1, e);
    return;
  }
  if (events & UV_READABLE) {
    struct mmsghdr msgs[RECV_BATCH_MAX];
    struct iovec iov[RECV_BATCH_MAX];
    struct sockaddr_in addrs[RECV_BATCH_MAX];
    for (int round = 0; round < RECV_ROUNDS && !r->p.stopped; round++) {
      int n = recv_into_slots(&r->p, r->fd, 0, r->p.slots, msgs, iov, addrs);
      if (n < 0) {
        /* Readiness was consumed by another reader, or a queued ICMP error (ECONNREFUSED...) was returned: nothing to hand over. */
        break;
      }
      if (n == 0) break;
      r->poll_errors = 0;
      for (int k = 0; k < n; k++) {
        uint32_t *m = r->p.meta + (size_t)k * META_FIELDS;
        m[0] = msgs[k].msg_len;
        m[1] = ntohl(addrs[k].sin_addr.s_addr);
        m[2] = ntohs(addrs[k].sin_port);
        m[3] = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
      }
      poller_call(&r->p, ON_PACKETS, 1, n);
      if ((uint32_t)n < r->p.slots) break;
    }
  }
  if ((events & UV_WRITABLE) && !r->p.stopped) poller_call(&r->p, ON_WRITABLE, 0, 0);
}

/* startReceiver(fd, slab: Buffer, meta: Uint32Array, slotBytes, onPackets(n), onWritable()): handle */
static napi_value start_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "startReceiver(fd, slab, meta, slotBytes, onPackets, onWritable)";
  int32_t fd = -1;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) { napi_throw_type_error(env, "EINVAL", usage); return NULL; }
  poller_args_t a = { argv[1], argv[2], argv[3], { argv[4], argv[5] }, 2, META_FIELDS, 1, RECV_BATCH_MAX };
  receiver_t *r = (receiver_t *)poller_start(env, sizeof(receiver_t), fd, &a, "dcplane:udp-receiver", UV_READABLE, on_poll, usage);
  if (r == NULL) return NULL;
  r->fd = fd;
  r->events = UV_READABLE;
  napi_add_env_cleanup_hook(env, receiver_cleanup_hook, r);
  return make_external(env, &r->p, HANDLE_RECEIVER);
}

/* setWritable(handle, on): also watch for writability (a send found the buffer full), or stop watching. */
static napi_value set_writable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  receiver_t *r = argc >= 2 ? get_external(env, argv[0], HANDLE_RECEIVER) : NULL;
  bool on = false;
  if (r == NULL || napi_get_value_bool(env, argv[1], &on) != napi_ok) { napi_throw_type_error(env, "EINVAL", "setWritable(handle, on)"); return NULL; }
  if (r->p.stopped) return NULL;
  int events = on ? (UV_READABLE | UV_WRITABLE) : UV_READABLE;
  if (events != r->events) {
    r->events = events;
    int e = uv_poll_start(&r->p.poll, events, on_poll);
    if (e < 0) return throw_errno(env, "uv_poll_start", -e);
  }
  return NULL;
}

/* stopReceiver(handle): stops reading and closes the socket; no callback runs after it. */
static napi_value stop_receiver(napi_env env, napi_callback_info info) {
  receiver_t *r = handle_arg(env, info, HANDLE_RECEIVER, "stopReceiver(handle)");
  if (r == NULL || r->p.stopped) return NULL;
  int fd = r->fd;
  napi_remove_env_cleanup_hook(env, receiver_cleanup_hook, r);
  poller_stop(&r->p);
  close(fd);
  return NULL;
}

/* The one argument of a call that takes a descriptor; -1 (thrown) when it is not one. */
static int fd_arg(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", usage);
    return -1;
  }
  return fd;
}

/* socketBuffers(fd): [receive, send] buffer sizes as the kernel reports them (twice what was asked: bookkeeping). */
static napi_value socket_buffers(napi_env env, napi_callback_info info) {
  int fd = fd_arg(env, info, "socketBuffers(fd)");
  if (fd < 0) return NULL;
  int rcv = 0, snd = 0;
  socklen_t len = sizeof rcv;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len) < 0) return throw_errno(env, "getsockopt(SO_RCVBUF)", errno);
  len = sizeof snd;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &len) < 0) return throw_errno(env, "getsockopt(SO_SNDBUF)", errno);
  napi_value out, a, b;
  napi_create_array_with_length(env, 2, &out);
  napi_create_int32(env, rcv, &a);
  napi_create_int32(env, snd, &b);
  napi_set_element(env, out, 0, a);
  napi_set_element(env, out, 1, b);
  return out;
}

/* ------------------------------------------------------------------------ */
/* TFTP transfer sockets                                                     */

/*
 * openBoundSocket(ip: string, port: number, reuseAddr: boolean, sendBufferBytes: number): number (fd)
 * A non-blocking IPv4 UDP socket bound to ip:port (port 0: the kernel picks
 * one); SO_REUSEADDR when asked, so that a second socket can share the port
 * (a transfer's unconnected stranger socket beside its connected one).
 */
static napi_value open_bound_socket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct in_addr addr;
  uint32_t port = 0, sndbuf = 0;
  bool reuse = false;
  if (argc < 4 || get_ipv4(env, argv[0], &addr) < 0 || napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535 ||
      napi_get_value_bool(env, argv[2], &reuse) != napi_ok || napi_get_value_uint32(env, argv[3], &sndbuf) != napi_ok || sndbuf > (1u << 30)) {
    napi_throw_type_error(env, "EINVAL", "openBoundSocket(ip, port, reuseAddr, sendBufferBytes)");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    int e = errno; close(fd); return throw_errno(env, "setsockopt(SO_REUSEADDR)", e);
  }
  /* Plain SO_SNDBUF: capped by net.core.wmem_max; a window then waits for the buffer (EAGAIN, then writable). */
  if (sndbuf > 0) (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr = addr;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno; close(fd); return throw_errno(env, "bind", e);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

/* connectSocket(fd, ip: string | number (host order), port): void -- the kernel then passes only that peer's datagrams. */
static napi_value connect_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t port = 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || get_ipv4(env, argv[1], &sa.sin_addr) < 0 ||
      napi_get_value_uint32(env, argv[2], &port) != napi_ok || port == 0 || port > 65535) {
    napi_throw_type_error(env, "EINVAL", "connectSocket(fd, ip, port)");
    return NULL;
  }
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return throw_errno(env, "connect", errno);
  return NULL;
}

/* localPort(fd): the port the socket is bound to. */
static napi_value local_port(napi_env env, napi_callback_info info) {
  int fd = fd_arg(env, info, "localPort(fd)");
  if (fd < 0) return NULL;
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) return throw_errno(env, "getsockname", errno);
  napi_value out;
  napi_create_uint32(env, ntohs(sa.sin_port), &out);
  return out;
}

/*
 * sendPackets(fd, packets: Buffer[], start, end): number -- on a connected
 * socket, packets[start..end) with one send(2) (a single packet) or
 * sendmmsg(2), from the Buffers' own memory. Returns how many the kernel
 * took (> 0), or -errno when it refused the one at `start` (-EAGAIN: the
 * send buffer is full; -ECONNREFUSED: an ICMP error from the peer was
 * pending). The kernel copies what it takes: the Buffers are free on return.
 */
static napi_value send_packets(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t start = 0, end = 0;
  if (argc < 4 || send_args(env, argv[0], argv[1], argv[2], argv[3], &fd, &start, &end) < 0) {
    napi_throw_type_error(env, "EINVAL", "sendPackets(fd, packets, start, end)");
    return NULL;
  }
  return send_loop(env, fd, argv[1], start, end, NULL, NULL);
}

/*
 * The socket group: an epoll set behind one libuv poll handle. Each member
 * is registered with a 32-bit id chosen by JS. Entries of a batch are
 * GROUP_FIELDS words in meta: [id, kind, value, source ip (host order),
 * source port], kind GROUP_DATAGRAM (value: length; the datagram is in slab
 * slot i), GROUP_TRUNCATED (longer than a slot, dropped), GROUP_WRITABLE,
 * GROUP_ERROR (value: errno, e.g. ECONNREFUSED from the client's ICMP port
 * unreachable). JS may remove and close members during its call: the rest
 * of that epoll_wait's events are never read after a call into JS, since a
 * closed fd's number may already belong to another socket; they are level
 * triggered and come back in the next epoll_wait.
 */
#define GROUP_FIELDS 5
#define GROUP_DATAGRAM 0
#define GROUP_TRUNCATED 1
#define GROUP_WRITABLE 2
#define GROUP_ERROR 3
/* The member's pump stopped: JS collects it (pumpCollect) before the entries after this one. */
#define GROUP_PUMP 4
#define GROUP_EVENTS 128
/* Datagrams read from one socket per round: one busy socket (a windowed upload) cannot crowd out the others. */
#define GROUP_PER_SOCKET 16
/* epoll_wait rounds per readiness of the set before the loop gets a turn (timers, the request socket). */
#define GROUP_ROUNDS 4

/*
 * A pump: what a lock-step read needs to answer ACK n with DATA n + 1 by
 * itself. Block numbers are logical (not wrapped to 16 bits); `sent` is the
 * last block on the wire, acknowledged up to sent - 1. JS hands this state
 * over with pumpArm after its own send and takes it back with pumpCollect.
 */
typedef struct {
  int armed;
  int fd;
  uint32_t client_ip;   /* host order */
  uint32_t client_port;
  /* The file: bytes in memory (held by data_ref), or a descriptor read ahead into ra. */
  const uint8_t *data;
  napi_ref data_ref;
  int file_fd;
  uint8_t *ra;
  uint64_t ra_at;
  size_t ra_len;
  uint64_t size;
  uint32_t blksize;
  uint64_t last_block;
  uint64_t sent;
  uint8_t *pkt;
  uint32_t pkt_cap;
  uint64_t sent_at_ns;
  /* Karn: the ACK of `sent` may be timed (its block was sent once). */
  int sample_next;
  /* Since the last pumpCollect. */
  uint32_t steps;
  int64_t rtt_ns;
  int send_errno;
  /* Blocks to go before pump_follow yields again. */
  uint32_t yield_skip;
} pump_t;

/* Bytes a pump reads from its file at once (one pread per ~44 blocks of 1468). */
#define PUMP_READ_AHEAD (64 * 1024)

typedef struct {
  poller_t p;
  int epfd;
  /* Pumps by descriptor number (a member's fd is unique while it is a member). */
  pump_t **pumps;
  uint32_t npumps;
} group_t;

/* Longest a loop turn follows one pumped transfer (pump_follow). */
#define PUMP_TURN_NS 1000000u
/* Blocks a pump goes without yielding after a yield found no ACK or took too long. */
#define PUMP_YIELD_BACKOFF 256u
/* A yield and read longer than this gave the CPU to other work, not just to the client. */
#define PUMP_YIELD_MAX_NS 50000u

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pump_free(napi_env env, pump_t *pp) {
  if (pp == NULL) return;
  if (pp->data_ref != NULL) napi_delete_reference(env, pp->data_ref);
  free(pp->ra);
  free(pp->pkt);
  free(pp);
}

static void group_free_pump(group_t *g, int fd) {
  if (fd < 0 || (uint32_t)fd >= g->npumps || g->pumps[fd] == NULL) return;
  pump_free(g->p.env, g->pumps[fd]);
  g->pumps[fd] = NULL;
}

static void group_stop(group_t *g) {
  if (g->p.stopped) return;
  int epfd = g->epfd;
  for (uint32_t i = 0; i < g->npumps; i++) group_free_pump(g, (int)i);
  free(g->pumps);
  g->pumps = NULL;
  g->npumps = 0;
  poller_stop(&g->p);
  close(epfd);
}

static pump_t *armed_pump(group_t *g, int fd) {
  if (fd < 0 || (uint32_t)fd >= g->npumps) return NULL;
  pump_t *pp = g->pumps[fd];
  return pp != NULL && pp->armed ? pp : NULL;
}

/* Copies `len` file bytes at `off` into dst; 0, or -1 when the file has fewer (it shrank) or cannot be read. */
static int pump_read(pump_t *pp, uint64_t off, size_t len, uint8_t *dst) {
  if (len == 0) return 0;
  if (pp->data != NULL) {
    memcpy(dst, pp->data + off, len);
    return 0;
  }
  if (off < pp->ra_at || off + len > pp->ra_at + pp->ra_len) {
    if (pp->ra == NULL && (pp->ra = malloc(PUMP_READ_AHEAD)) == NULL) return -1;
    uint64_t want = pp->size - off < PUMP_READ_AHEAD ? pp->size - off : PUMP_READ_AHEAD;
    size_t got = 0;
    while (got < want) {
      ssize_t r = pread(pp->file_fd, pp->ra + got, want - got, (off_t)(off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
    pp->ra_at = off;
    pp->ra_len = got;
    if (got < len) {
      pp->ra_len = 0;
      return -1;
    }
  }
  memcpy(dst, pp->ra + (off - pp->ra_at), len);
  return 0;
}

#define PUMP_SURFACE 0   /* not the pump's: stopped, the datagram goes to JS */
#define PUMP_TAKEN 1     /* answered */
#define PUMP_TAKEN_STOP 2 /* answered, but the next block could not be sent: stopped */

/* Answers an in-order ACK of the last block sent with the next block; anything else stops the pump. */
static int pump_take(pump_t *pp, const uint8_t *buf, uint32_t len, const struct sockaddr_in *from) {
  if (len < 4 || buf[0] != 0 || buf[1] != 4 || ntohl(from->sin_addr.s_addr) != pp->client_ip || ntohs(from->sin_port) != pp->client_port ||
      (((uint32_t)buf[2] << 8) | buf[3]) != (uint32_t)(pp->sent & 0xffff) || pp->sent >= pp->last_block) {
    pp->armed = 0;
    return PUMP_SURFACE;
  }
  uint64_t b = pp->sent + 1;
  uint64_t off = (b - 1) * (uint64_t)pp->blksize;
  size_t n = off >= pp->size ? 0 : (pp->size - off < pp->blksize ? (size_t)(pp->size - off) : pp->blksize);
  /* The file shrank: JS reads it too and fails the transfer with its ERROR. */
  if (pump_read(pp, off, n, pp->pkt + 4) < 0) {
    pp->armed = 0;
    return PUMP_SURFACE;
  }
  pp->pkt[0] = 0;
  pp->pkt[1] = 3;
  pp->pkt[2] = (uint8_t)((b >> 8) & 0xff);
  pp->pkt[3] = (uint8_t)(b & 0xff);
  uint64_t now = mono_ns();
  if (pp->sample_next) pp->rtt_ns = (int64_t)(now - pp->sent_at_ns);
  ssize_t r;
  do {
    r = send(pp->fd, pp->pkt, 4 + n, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  pp->sent = b;
  pp->steps++;
  pp->sent_at_ns = now;
  pp->sample_next = 1;
  if (r < 0) {
    /* JS sends it again (EAGAIN: queued until writable) or reports the refusal, as for its own sends. */
    pp->send_errno = errno;
    pp->sample_next = 0;
    pp->armed = 0;
    return PUMP_TAKEN_STOP;
  }
  return PUMP_TAKEN;
}

static void group_cleanup_hook(void *arg) {
  group_stop(arg);
}

static uint32_t *group_entry(group_t *g, uint32_t i, uint32_t id, uint32_t kind, uint32_t value) {
  uint32_t *m = g->p.meta + (size_t)i * GROUP_FIELDS;
  m[0] = id;
  m[1] = kind;
  m[2] = value;
  m[3] = 0;
  m[4] = 0;
  return m;
}

/*
 * Turns datagrams base..base+n of member `id` into batch entries from index
 * `used` on, through its pump when armed (slot used is then free: base is
 * used + 1). Returns the new `used`.
 */
static uint32_t group_take(group_t *g, uint32_t id, pump_t *pp, uint32_t used, uint32_t base, int n, struct mmsghdr *msgs, struct sockaddr_in *addrs) {
  for (int k = 0; k < n; k++) {
    int trunc = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    uint8_t *slot = g->p.slab + (size_t)(base + (uint32_t)k) * g->p.slot_bytes;
    if (pp != NULL && pp->armed) {
      int took = trunc ? (pp->armed = 0, PUMP_SURFACE) : pump_take(pp, slot, msgs[k].msg_len, &addrs[k]);
      if (took == PUMP_TAKEN) continue;
      group_entry(g, used++, id, GROUP_PUMP, 0);
      if (took == PUMP_TAKEN_STOP) continue;
    }
    /* Entry i's bytes are in slot i: a datagram moves down over the ones the pump answered. */
    if (used != base + (uint32_t)k) memmove(g->p.slab + (size_t)used * g->p.slot_bytes, slot, trunc ? 0 : msgs[k].msg_len);
    uint32_t *m = group_entry(g, used++, id, trunc ? GROUP_TRUNCATED : GROUP_DATAGRAM, msgs[k].msg_len);
    m[3] = ntohl(addrs[k].sin_addr.s_addr);
    m[4] = ntohs(addrs[k].sin_port);
  }
  return used;
}

/*
 * A lock-step client on this host (a VM or container on a bridge, a test,
 * a bench) is woken by the pump's send onto this CPU, and runs once this
 * thread gives the CPU up. When this transfer is the only ready socket, the
 * pump yields it (sched_yield: no spinning, it returns at once when nothing
 * else is runnable) and reads the socket once more before going back to
 * epoll: the client's next ACK is usually there by then, and the round trip
 * costs no epoll wake-up and no event-loop turn on this side. A yield that
 * finds nothing (a client across a network), or that gave the CPU away for
 * longer than PUMP_YIELD_MAX_NS (a busy host: other work ran first), turns
 * yielding off for the next PUMP_YIELD_BACKOFF blocks, so such a transfer
 * costs one wasted yield and read per that many blocks. At most
 * PUMP_TURN_NS per loop turn (*turn_end), so timers and the other sockets
 * wait no longer.
 */
static uint32_t pump_follow(group_t *g, uint32_t id, int fd, pump_t *pp, uint32_t used, struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_in *addrs, uint64_t *turn_end) {
  while (pp->armed && g->p.slots - used >= 3) {
    if (pp->yield_skip > 0) {
      pp->yield_skip--;
      break;
    }
    uint64_t now = mono_ns();
    if (*turn_end == 0) *turn_end = now + PUMP_TURN_NS;
    else if (now >= *turn_end) break;
    sched_yield();
    int r = recv_into_slots(&g->p, fd, used + 1, 1, msgs, iov, addrs);
    if (r <= 0 || mono_ns() - now > PUMP_YIELD_MAX_NS) pp->yield_skip = PUMP_YIELD_BACKOFF;
    /* A pending socket error (ECONNREFUSED: the client's port closed) is returned once, in place of a datagram, and cleared: epoll does not report it again. */
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) group_entry(g, used++, id, GROUP_ERROR, (uint32_t)errno);
    /* Nothing yet: sleep in epoll. */
    if (r <= 0) break;
    used = group_take(g, id, pp, used, used + 1, r, msgs, addrs);
  }
  return used;
}

static void on_group_poll(uv_poll_t *h, int status, int events) {
  group_t *g = h->data;
  (void)events;
  if (status < 0) {
    /* The epoll fd itself does not fail short of a bug; say so to JS and poll again. */
    poller_call(&g->p, 0, 1, status);
    if (!g->p.stopped) uv_poll_start(&g->p.poll, UV_READABLE, on_group_poll);
    return;
  }
  struct epoll_event evs[GROUP_EVENTS];
  struct mmsghdr msgs[GROUP_PER_SOCKET];
  struct iovec iov[GROUP_PER_SOCKET];
  struct sockaddr_in addrs[GROUP_PER_SOCKET];
  uint64_t turn_end = 0;
  for (int round = 0; round < GROUP_ROUNDS && !g->p.stopped; round++) {
    int nev;
    do {
      nev = epoll_wait(g->epfd, evs, GROUP_EVENTS, 0);
    } while (nev < 0 && errno == EINTR);
    if (nev <= 0) break;
    uint32_t used = 0;
    int full = 0;
    for (int e = 0; e < nev && !full; e++) {
      uint32_t id = (uint32_t)(evs[e].data.u64 >> 32);
      int fd = (int)(uint32_t)(evs[e].data.u64 & 0xffffffffu);
      uint32_t ev = evs[e].events;
      /* Room for an error, a writable and at least one datagram; otherwise this socket waits for the next round. */
      if (g->p.slots - used < 3) { full = 1; break; }
      if (ev & EPOLLERR) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) group_entry(g, used++, id, GROUP_ERROR, (uint32_t)soerr);
      }
      if (ev & EPOLLIN) {
        pump_t *pp = armed_pump(g, fd);
        /* With a pump, slot `used` is kept for the entry that says it stopped (at most one per read: it stays stopped). */
        uint32_t base = used + (pp != NULL ? 1 : 0);
        uint32_t room = g->p.slots - base - 1;
        uint32_t cap = room < GROUP_PER_SOCKET ? room : GROUP_PER_SOCKET;
        int n = recv_into_slots(&g->p, fd, base, cap, msgs, iov, addrs);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          /* A connected socket returns a pending ICMP error (ECONNREFUSED) once, in place of a datagram. */
          group_entry(g, used++, id, GROUP_ERROR, (uint32_t)errno);
        }
        used = group_take(g, id, pp, used, base, n, msgs, addrs);
        if (nev == 1 && pp != NULL && pp->armed) used = pump_follow(g, id, fd, pp, used, msgs, iov, addrs, &turn_end);
      }
      if (ev & EPOLLOUT) group_entry(g, used++, id, GROUP_WRITABLE, 0);
    }
    if (used > 0) poller_call(&g->p, 0, 1, (int32_t)used);
    if (!full && nev < GROUP_EVENTS) break;
  }
}

/* createGroup(slab: Buffer, meta: Uint32Array, slotBytes, onBatch(n)): handle */
static napi_value create_group(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "createGroup(slab, meta, slotBytes, onBatch)";
  if (argc < 4) { napi_throw_type_error(env, "EINVAL", usage); return NULL; }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return throw_errno(env, "epoll_create1", errno);
  poller_args_t a = { argv[0], argv[1], argv[2], { argv[3], NULL }, 1, GROUP_FIELDS, 3, UINT32_MAX };
  group_t *g = (group_t *)poller_start(env, sizeof(group_t), epfd, &a, "dcplane:udp-group", UV_READABLE, on_group_poll, usage);
  if (g == NULL) {
    close(epfd);
    return NULL;
  }
  g->epfd = epfd;
  napi_add_env_cleanup_hook(env, group_cleanup_hook, g);
  return make_external(env, &g->p, HANDLE_GROUP);
}

static int group_ctl(napi_env env, napi_callback_info info, int op, const char *usage, const char *syscall) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  group_t *g = argc >= 2 ? get_external(env, argv[0], HANDLE_GROUP) : NULL;
  int32_t fd = -1;
  uint32_t id = 0;
  bool writable = false;
  if (g == NULL || napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0 ||
      (op != EPOLL_CTL_DEL && (argc < 3 || napi_get_value_uint32(env, argv[2], &id) != napi_ok)) ||
      (op == EPOLL_CTL_MOD && (argc < 4 || napi_get_value_bool(env, argv[3], &writable) != napi_ok))) {
    napi_throw_type_error(env, "EINVAL", usage);
    return -1;
  }
  if (g->p.stopped) return 0;
  /* A member's pump goes with it: the number may belong to another socket once closed. */
  if (op == EPOLL_CTL_DEL) group_free_pump(g, fd);
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | (writable ? EPOLLOUT : 0);
  ev.data.u64 = ((uint64_t)id << 32) | (uint32_t)fd;
  if (epoll_ctl(g->epfd, op, fd, &ev) < 0) {
    throw_errno(env, syscall, errno);
    return -1;
  }
  return 0;
}

/* groupAdd(handle, fd, id): read fd as part of the group, its entries tagged with id. */
static napi_value group_add(napi_env env, napi_callback_info info) {
  group_ctl(env, info, EPOLL_CTL_ADD, "groupAdd(handle, fd, id)", "epoll_ctl(ADD)");
  return NULL;
}

/* groupWatchWritable(handle, fd, id, on): also report when fd can be written (a send found its buffer full), or stop. */
static napi_value group_watch_writable(napi_env env, napi_callback_info info) {
  group_ctl(env, info, EPOLL_CTL_MOD, "groupWatchWritable(handle, fd, id, on)", "epoll_ctl(MOD)");
  return NULL;
}

/* groupRemove(handle, fd): stop reading fd (before closing it). */
static napi_value group_remove(napi_env env, napi_callback_info info) {
  group_ctl(env, info, EPOLL_CTL_DEL, "groupRemove(handle, fd)", "epoll_ctl(DEL)");
  return NULL;
}

/*
 * pumpArm(handle, fd, source: Uint8Array | number (a file descriptor), size,
 *         blksize, lastBlock, sent, clientIp (host order), clientPort,
 *         sampleFirst, sentAgoMs?): boolean
 *
 * Member fd (connected to the client) answers the client's ACK of block
 * `sent` (logical) with DATA sent + 1 itself, and so on, until a packet that
 * is not the in-order ACK of a block before lastBlock arrives (the final
 * ACK included), a read or a send fails: then it stops and the batch has a
 * GROUP_PUMP entry for fd before that packet. A Uint8Array source is held
 * until the pump is re-armed or its member removed; a descriptor must stay
 * open while the pump is armed. sampleFirst: block `sent` left once, so its
 * ACK's round trip is a sample, timed from sentAgoMs (default 0) before this
 * call: when JS arms it again after handling a packet (a duplicate ACK), the
 * block left earlier.
 */
static napi_value pump_arm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *usage = "pumpArm(handle, fd, source, size, blksize, lastBlock, sent, clientIp, clientPort, sampleFirst, sentAgoMs?)";
  group_t *g = argc >= 10 ? get_external(env, argv[0], HANDLE_GROUP) : NULL;
  int32_t fd = -1, file_fd = -1;
  int64_t size = 0, last_block = 0, sent = 0;
  uint32_t blksize = 0, ip = 0, port = 0;
  bool sample = false, is_ta = false;
  double sent_ago_ms = 0;
  void *data = NULL;
  size_t data_len = 0;
  napi_valuetype st;
  if (g == NULL || napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0 || napi_typeof(env, argv[2], &st) != napi_ok ||
      napi_get_value_int64(env, argv[3], &size) != napi_ok || size < 0 || napi_get_value_uint32(env, argv[4], &blksize) != napi_ok ||
      blksize == 0 || blksize > 65464 || napi_get_value_int64(env, argv[5], &last_block) != napi_ok || napi_get_value_int64(env, argv[6], &sent) != napi_ok ||
      sent < 1 || last_block < sent || (uint64_t)last_block != (uint64_t)size / blksize + 1 || napi_get_value_uint32(env, argv[7], &ip) != napi_ok ||
      napi_get_value_uint32(env, argv[8], &port) != napi_ok || port == 0 || port > 65535 || napi_get_value_bool(env, argv[9], &sample) != napi_ok ||
      (argc >= 11 && (napi_get_value_double(env, argv[10], &sent_ago_ms) != napi_ok || !(sent_ago_ms >= 0) || sent_ago_ms > 1e9))) {
    napi_throw_type_error(env, "EINVAL", usage);
    return NULL;
  }
  if (st == napi_number) {
    if (napi_get_value_int32(env, argv[2], &file_fd) != napi_ok || file_fd < 0) { napi_throw_type_error(env, "EINVAL", usage); return NULL; }
  } else {
    napi_typedarray_type tt;
    if (napi_is_typedarray(env, argv[2], &is_ta) != napi_ok || !is_ta ||
        napi_get_typedarray_info(env, argv[2], &tt, &data_len, &data, NULL, NULL) != napi_ok || tt != napi_uint8_array || (uint64_t)data_len < (uint64_t)size) {
      napi_throw_type_error(env, "EINVAL", usage);
      return NULL;
    }
  }
  napi_value out;
  if (g->p.stopped) {
    napi_get_boolean(env, false, &out);
    return out;
  }
  if ((uint32_t)fd >= g->npumps) {
    uint32_t n = g->npumps == 0 ? 64 : g->npumps;
    while (n <= (uint32_t)fd) n *= 2;
    pump_t **grown = realloc(g->pumps, n * sizeof *grown);
    if (grown == NULL) return throw_errno(env, "realloc", ENOMEM);
    memset(grown + g->npumps, 0, (n - g->npumps) * sizeof *grown);
    g->pumps = grown;
    g->npumps = n;
  }
  pump_t *pp = g->pumps[fd];
  if (pp == NULL) {
    if ((pp = calloc(1, sizeof *pp)) == NULL) return throw_errno(env, "calloc", ENOMEM);
    pp->file_fd = -1;
    g->pumps[fd] = pp;
  }
  if (pp->pkt_cap < 4 + blksize) {
    uint8_t *pkt = realloc(pp->pkt, 4 + blksize);
    if (pkt == NULL) return throw_errno(env, "realloc", ENOMEM);
    pp->pkt = pkt;
    pp->pkt_cap = 4 + blksize;
  }
  if (pp->data_ref != NULL) {
    napi_delete_reference(env, pp->data_ref);
    pp->data_ref = NULL;
  }
  if (file_fd != pp->file_fd || data != NULL) pp->ra_len = 0;
  pp->data = data;
  pp->file_fd = data != NULL ? -1 : file_fd;
  if (data != NULL) napi_create_reference(env, argv[2], 1, &pp->data_ref);
  pp->fd = fd;
  pp->client_ip = ip;
  pp->client_port = port;
  pp->size = (uint64_t)size;
  pp->blksize = blksize;
  pp->last_block = (uint64_t)last_block;
  pp->sent = (uint64_t)sent;
  uint64_t now = mono_ns(), ago = (uint64_t)(sent_ago_ms * 1e6);
  pp->sent_at_ns = ago < now ? now - ago : 0;
  pp->sample_next = sample;
  pp->steps = 0;
  pp->rtt_ns = -1;
  pp->send_errno = 0;
  pp->armed = 1;
  napi_get_boolean(env, true, &out);
  return out;
}

/*
 * pumpCollect(handle, fd, disarm: boolean, out: Float64Array(3)): number
 *
 * How many ACKs the pump of member fd answered since it was armed or last
 * collected (each sent one new block; the last block it sent is sent + steps).
 * out[0]: ms since the pump's last send; out[1]: the round trip of the last
 * ACK it timed, in ms (-1: none); out[2]: errno of the last send when it
 * failed (that block did not leave), else 0. disarm: it answers nothing more.
 */
static napi_value pump_collect(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  group_t *g = argc >= 4 ? get_external(env, argv[0], HANDLE_GROUP) : NULL;
  int32_t fd = -1;
  bool disarm = false, is_ta = false;
  napi_typedarray_type tt;
  size_t len = 0;
  void *outp = NULL;
  if (g == NULL || napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0 || napi_get_value_bool(env, argv[2], &disarm) != napi_ok ||
      napi_is_typedarray(env, argv[3], &is_ta) != napi_ok || !is_ta || napi_get_typedarray_info(env, argv[3], &tt, &len, &outp, NULL, NULL) != napi_ok ||
      tt != napi_float64_array || len < 3) {
    napi_throw_type_error(env, "EINVAL", "pumpCollect(handle, fd, disarm, out)");
    return NULL;
  }
  double *o = outp;
  uint32_t steps = 0;
  o[0] = 0;
  o[1] = -1;
  o[2] = 0;
  pump_t *pp = !g->p.stopped && (uint32_t)fd < g->npumps ? g->pumps[fd] : NULL;
  if (pp != NULL) {
    steps = pp->steps;
    o[0] = (double)(mono_ns() - pp->sent_at_ns) / 1e6;
    o[1] = pp->rtt_ns < 0 ? -1 : (double)pp->rtt_ns / 1e6;
    o[2] = pp->send_errno;
    pp->steps = 0;
    pp->rtt_ns = -1;
    pp->send_errno = 0;
    if (disarm) pp->armed = 0;
  }
  napi_value out;
  napi_create_uint32(env, steps, &out);
  return out;
}

/* stopGroup(handle): no callback runs after it; the members stay open (their owners close them). */
static napi_value stop_group(napi_env env, napi_callback_info info) {
  group_t *g = handle_arg(env, info, HANDLE_GROUP, "stopGroup(handle)");
  if (g == NULL || g->p.stopped) return NULL;
  napi_remove_env_cleanup_hook(env, group_cleanup_hook, g);
  group_stop(g);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "openUdpSocket", NULL, open_udp_socket, NULL, NULL, NULL, napi_default, NULL },
    { "setArp", NULL, set_arp, NULL, NULL, NULL, napi_default, NULL },
    { "sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL },
    { "startReceiver", NULL, start_receiver, NULL, NULL, NULL, napi_default, NULL },
    { "setWritable", NULL, set_writable, NULL, NULL, NULL, napi_default, NULL },
    { "stopReceiver", NULL, stop_receiver, NULL, NULL, NULL, napi_default, NULL },
    { "socketBuffers", NULL, socket_buffers, NULL, NULL, NULL, napi_default, NULL },
    { "openBoundSocket", NULL, open_bound_socket, NULL, NULL, NULL, napi_default, NULL },
    { "connectSocket", NULL, connect_socket, NULL, NULL, NULL, napi_default, NULL },
    { "localPort", NULL, local_port, NULL, NULL, NULL, napi_default, NULL },
    { "sendPackets", NULL, send_packets, NULL, NULL, NULL, napi_default, NULL },
    { "createGroup", NULL, create_group, NULL, NULL, NULL, napi_default, NULL },
    { "groupAdd", NULL, group_add, NULL, NULL, NULL, napi_default, NULL },
    { "groupWatchWritable", NULL, group_watch_writable, NULL, NULL, NULL, napi_default, NULL },
    { "groupRemove", NULL, group_remove, NULL, NULL, NULL, napi_default, NULL },
    { "stopGroup", NULL, stop_group, NULL, NULL, NULL, napi_default, NULL },
    { "pumpArm", NULL, pump_arm, NULL, NULL, NULL, napi_default, NULL },
    { "pumpCollect", NULL, pump_collect, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
