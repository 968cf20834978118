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
 *
 * Errors are thrown as JS errors with `code` set to the errno name and
 * `syscall` to the call that failed.
 */
#define _GNU_SOURCE
#include <node_api.h>
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "openUdpSocket", NULL, open_udp_socket, NULL, NULL, NULL, napi_default, NULL },
    { "setArp", NULL, set_arp, NULL, NULL, NULL, napi_default, NULL },
    { "sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
