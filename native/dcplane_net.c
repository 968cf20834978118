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
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t == napi_number) {
    double d = 0;
    napi_get_value_double(env, argv[1], &d);
    if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) { napi_throw_type_error(env, "EINVAL", "bad ip"); return NULL; }
    pa->sin_addr.s_addr = htonl((uint32_t)d);
  } else {
    char ip[32] = {0};
    size_t len = 0;
    if (t != napi_string || napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len) != napi_ok || len == 0 ||
        inet_pton(AF_INET, ip, &pa->sin_addr) != 1) {
      napi_throw_type_error(env, "EINVAL", "bad ip");
      return NULL;
    }
  }

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
  uint32_t start = 0, end = 0, length = 0;
  bool is_array = false;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &length) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &start) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &end) != napi_ok || start > end || end > length) {
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

  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK];
  struct sockaddr_in addrs[SEND_CHUNK];
  uint32_t sent = 0;
  uint32_t at = start;
  while (at < end) {
    uint32_t n = end - at < SEND_CHUNK ? end - at : SEND_CHUNK;
    for (uint32_t k = 0; k < n; k++) {
      napi_value el;
      void *data = NULL;
      size_t len = 0;
      bool is_buffer = false;
      if (napi_get_element(env, argv[1], at + k, &el) != napi_ok || napi_is_buffer(env, el, &is_buffer) != napi_ok || !is_buffer ||
          napi_get_buffer_info(env, el, &data, &len) != napi_ok) {
        napi_throw_type_error(env, "EINVAL", "packets must be Buffers");
        return NULL;
      }
      memset(&addrs[k], 0, sizeof addrs[k]);
      addrs[k].sin_family = AF_INET;
      addrs[k].sin_port = htons(ports[at + k]);
      addrs[k].sin_addr.s_addr = htonl(ips[at + k]);
      iov[k].iov_base = data;
      iov[k].iov_len = len;
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_name = &addrs[k];
      msgs[k].msg_hdr.msg_namelen = sizeof addrs[k];
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r;
    do {
      r = sendmmsg(fd, msgs, n, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      int e = errno;
      if (sent > 0) break;
      napi_value out;
      napi_create_int32(env, -e, &out);
      return out;
    }
    sent += (uint32_t)r;
    at += (uint32_t)r;
    if ((uint32_t)r < n) break;
  }
  napi_value out;
  napi_create_uint32(env, sent, &out);
  return out;
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

typedef struct {
  uv_poll_t poll;
  napi_env env;
  int fd;
  int events;
  int stopped;
  /* Poll errors since the last datagram read: bounds the restarts of a socket that keeps failing. */
  int poll_errors;
  uint8_t *slab;
  size_t slot_bytes;
  uint32_t *meta;
  uint32_t slots;
  napi_ref slab_ref, meta_ref, on_packets, on_writable;
  napi_async_context actx;
} receiver_t;

static void receiver_closed(uv_handle_t *h) {
  free(h->data);
}

/* Calls fn(arg) as a callback from the event loop: microtasks and process.nextTick run after it. */
static void call_js(receiver_t *r, napi_ref fn_ref, int has_arg, int32_t arg) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[1], result;
  napi_get_reference_value(env, fn_ref, &fn);
  napi_get_global(env, &recv);
  if (has_arg) napi_create_int32(env, arg, &argv[0]);
  if (napi_make_callback(env, r->actx, recv, fn, has_arg ? 1 : 0, argv, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void receiver_stop(receiver_t *r) {
  if (r->stopped) return;
  r->stopped = 1;
  uv_poll_stop(&r->poll);
  napi_delete_reference(r->env, r->slab_ref);
  napi_delete_reference(r->env, r->meta_ref);
  napi_delete_reference(r->env, r->on_packets);
  napi_delete_reference(r->env, r->on_writable);
  napi_async_destroy(r->env, r->actx);
  uv_close((uv_handle_t *)&r->poll, receiver_closed);
}

static void receiver_cleanup_hook(void *arg) {
  receiver_stop(arg);
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
    call_js(r, r->on_packets, 1, status);
    if (r->stopped) return;
    if (++r->poll_errors > POLL_ERRORS_MAX) {
      call_js(r, r->on_packets, 1, -EIO);
      return;
    }
    int e = uv_poll_start(&r->poll, r->events, on_poll);
    if (e < 0) call_js(r, r->on_packets, 1, e);
    return;
  }
  if (events & UV_READABLE) {
    struct mmsghdr msgs[RECV_BATCH_MAX];
    struct iovec iov[RECV_BATCH_MAX];
    struct sockaddr_in addrs[RECV_BATCH_MAX];
    for (int round = 0; round < RECV_ROUNDS && !r->stopped; round++) {
      for (uint32_t k = 0; k < r->slots; k++) {
        iov[k].iov_base = r->slab + (size_t)k * r->slot_bytes;
        iov[k].iov_len = r->slot_bytes;
        memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
        msgs[k].msg_hdr.msg_name = &addrs[k];
        msgs[k].msg_hdr.msg_namelen = sizeof addrs[k];
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_len = 0;
      }
      int n;
      do {
        n = recvmmsg(r->fd, msgs, r->slots, MSG_DONTWAIT, NULL);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        /* Readiness was consumed by another reader, or a queued ICMP error (ECONNREFUSED...) was returned: nothing to hand over. */
        break;
      }
      if (n == 0) break;
      r->poll_errors = 0;
      for (int k = 0; k < n; k++) {
        uint32_t *m = r->meta + (size_t)k * META_FIELDS;
        m[0] = msgs[k].msg_len;
        m[1] = ntohl(addrs[k].sin_addr.s_addr);
        m[2] = ntohs(addrs[k].sin_port);
        m[3] = (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
      }
      call_js(r, r->on_packets, 1, n);
      if ((uint32_t)n < r->slots) break;
    }
  }
  if ((events & UV_WRITABLE) && !r->stopped) call_js(r, r->on_writable, 0, 0);
}

static napi_value receiver_external(napi_env env, receiver_t *r) {
  napi_value out;
  napi_create_external(env, r, NULL, NULL, &out);
  return out;
}

static receiver_t *get_receiver(napi_env env, napi_value v) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* startReceiver(fd, slab: Buffer, meta: Uint32Array, slotBytes, onPackets(n), onWritable()): handle */
static napi_value start_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) { napi_throw_type_error(env, "EINVAL", "startReceiver(fd, slab, meta, slotBytes, onPackets, onWritable)"); return NULL; }
  int32_t fd = -1;
  uint32_t slot_bytes = 0;
  void *slab = NULL, *meta = NULL;
  size_t slab_len = 0, meta_len = 0;
  bool is_buffer = false, is_ta = false;
  napi_typedarray_type meta_type;
  napi_valuetype t1, t2;
  napi_is_buffer(env, argv[1], &is_buffer);
  napi_is_typedarray(env, argv[2], &is_ta);
  napi_typeof(env, argv[4], &t1);
  napi_typeof(env, argv[5], &t2);
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || !is_buffer || !is_ta ||
      napi_get_value_uint32(env, argv[3], &slot_bytes) != napi_ok || slot_bytes == 0 ||
      napi_get_buffer_info(env, argv[1], &slab, &slab_len) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &meta_type, &meta_len, &meta, NULL, NULL) != napi_ok ||
      meta_type != napi_uint32_array || t1 != napi_function || t2 != napi_function) {
    napi_throw_type_error(env, "EINVAL", "bad startReceiver arguments");
    return NULL;
  }
  size_t slots = slab_len / slot_bytes;
  if (meta_len / META_FIELDS < slots) slots = meta_len / META_FIELDS;
  if (slots > RECV_BATCH_MAX) slots = RECV_BATCH_MAX;
  if (slots == 0) { napi_throw_type_error(env, "EINVAL", "slab and meta hold no slot"); return NULL; }

  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) { napi_throw_error(env, "EINVAL", "no event loop"); return NULL; }
  receiver_t *r = calloc(1, sizeof *r);
  if (r == NULL) return throw_errno(env, "calloc", ENOMEM);
  r->env = env;
  r->fd = fd;
  r->slab = slab;
  r->slot_bytes = slot_bytes;
  r->meta = meta;
  r->slots = (uint32_t)slots;
  int e = uv_poll_init(loop, &r->poll, fd);
  if (e < 0) { free(r); return throw_errno(env, "uv_poll_init", -e); }
  r->poll.data = r;
  napi_create_reference(env, argv[1], 1, &r->slab_ref);
  napi_create_reference(env, argv[2], 1, &r->meta_ref);
  napi_create_reference(env, argv[4], 1, &r->on_packets);
  napi_create_reference(env, argv[5], 1, &r->on_writable);
  napi_value name;
  napi_create_string_utf8(env, "dcplane:udp-receiver", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->actx);
  r->events = UV_READABLE;
  e = uv_poll_start(&r->poll, r->events, on_poll);
  if (e < 0) {
    receiver_stop(r);
    return throw_errno(env, "uv_poll_start", -e);
  }
  napi_add_env_cleanup_hook(env, receiver_cleanup_hook, r);
  return receiver_external(env, r);
}

/* setWritable(handle, on): also watch for writability (a send found the buffer full), or stop watching. */
static napi_value set_writable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  receiver_t *r = argc >= 2 ? get_receiver(env, argv[0]) : NULL;
  bool on = false;
  if (r == NULL || napi_get_value_bool(env, argv[1], &on) != napi_ok) { napi_throw_type_error(env, "EINVAL", "setWritable(handle, on)"); return NULL; }
  if (r->stopped) return NULL;
  int events = on ? (UV_READABLE | UV_WRITABLE) : UV_READABLE;
  if (events != r->events) {
    r->events = events;
    int e = uv_poll_start(&r->poll, events, on_poll);
    if (e < 0) return throw_errno(env, "uv_poll_start", -e);
  }
  return NULL;
}

/* stopReceiver(handle): stops reading and closes the socket; no callback runs after it. */
static napi_value stop_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  receiver_t *r = argc >= 1 ? get_receiver(env, argv[0]) : NULL;
  if (r == NULL) { napi_throw_type_error(env, "EINVAL", "stopReceiver(handle)"); return NULL; }
  if (r->stopped) return NULL;
  int fd = r->fd;
  napi_remove_env_cleanup_hook(env, receiver_cleanup_hook, r);
  receiver_stop(r);
  close(fd);
  return NULL;
}

/* socketBuffers(fd): [receive, send] buffer sizes as the kernel reports them (twice what was asked: bookkeeping). */
static napi_value socket_buffers(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) { napi_throw_type_error(env, "EINVAL", "socketBuffers(fd)"); return NULL; }
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "openUdpSocket", NULL, open_udp_socket, NULL, NULL, NULL, napi_default, NULL },
    { "setArp", NULL, set_arp, NULL, NULL, NULL, napi_default, NULL },
    { "sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL },
    { "startReceiver", NULL, start_receiver, NULL, NULL, NULL, napi_default, NULL },
    { "setWritable", NULL, set_writable, NULL, NULL, NULL, napi_default, NULL },
    { "stopReceiver", NULL, stop_receiver, NULL, NULL, NULL, napi_default, NULL },
    { "socketBuffers", NULL, socket_buffers, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
