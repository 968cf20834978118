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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "openUdpSocket", NULL, open_udp_socket, NULL, NULL, NULL, napi_default, NULL },
    { "setArp", NULL, set_arp, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
