/*
 * dcplane_net: the two socket operations Node's dgram module cannot do.
 *
 *  - openUdpSocket(ifname, port): a UDP socket bound to 0.0.0.0:port and, when
 *    ifname is given, to that interface with SO_BINDTODEVICE. Broadcasts that
 *    arrive on the interface are delivered to this socket only, and replies
 *    (broadcast included) leave through it, as RFC 2131 section 4.1 requires
 *    of a server on a multi-homed host. The fd is handed to dgram with
 *    socket.bind({ fd }).
 *  - setArp(ifname, ip, mac): installs a neighbour entry so that a DHCPOFFER or
 *    DHCPACK can be unicast to a client that has no address yet ("the server
 *    unicasts DHCPOFFER and DHCPACK messages to the client's hardware address
 *    and 'yiaddr' address", RFC 2131 section 4.1), as dnsmasq does.
 *
 * Errors are thrown as JS errors with `code` set to the errno name.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
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

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = "EUNKNOWN";
  switch (err) {
    case EPERM: code = "EPERM"; break;
    case EACCES: code = "EACCES"; break;
    case EADDRINUSE: code = "EADDRINUSE"; break;
    case ENODEV: code = "ENODEV"; break;
    case EINVAL: code = "EINVAL"; break;
    case ENXIO: code = "ENXIO"; break;
    default: break;
  }
  napi_throw_error(env, code, msg);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -1;
  return (int)len;
}

/* openUdpSocket(ifname: string | null, port: number): number (fd) */
static napi_value open_udp_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) { napi_throw_type_error(env, "EINVAL", "openUdpSocket(ifname, port)"); return NULL; }

  char ifname[IFNAMSIZ + 1] = {0};
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  int bind_dev = 0;
  if (t == napi_string) {
    int n = get_string(env, argv[0], ifname, sizeof ifname);
    if (n <= 0 || n >= IFNAMSIZ) { napi_throw_type_error(env, "EINVAL", "bad interface name"); return NULL; }
    bind_dev = 1;
  }
  uint32_t port = 0;
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535) {
    napi_throw_type_error(env, "EINVAL", "bad port");
    return NULL;
  }

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) {
    int e = errno; close(fd); return throw_errno(env, "setsockopt", e);
  }
  if (bind_dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) {
    int e = errno; close(fd); return throw_errno(env, "SO_BINDTODEVICE", e);
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

/* setArp(ifname: string, ip: string, mac: Buffer(6)): void */
static napi_value set_arp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) { napi_throw_type_error(env, "EINVAL", "setArp(ifname, ip, mac)"); return NULL; }
  char ifname[IFNAMSIZ + 1] = {0};
  char ip[32] = {0};
  int n = get_string(env, argv[0], ifname, sizeof ifname);
  if (n <= 0 || n >= IFNAMSIZ) { napi_throw_type_error(env, "EINVAL", "bad interface name"); return NULL; }
  if (get_string(env, argv[1], ip, sizeof ip) <= 0) { napi_throw_type_error(env, "EINVAL", "bad ip"); return NULL; }
  void *mac = NULL;
  size_t maclen = 0;
  if (napi_get_buffer_info(env, argv[2], &mac, &maclen) != napi_ok || maclen < 6 || maclen > 14) {
    napi_throw_type_error(env, "EINVAL", "bad mac");
    return NULL;
  }
  struct arpreq req;
  memset(&req, 0, sizeof req);
  struct sockaddr_in *pa = (struct sockaddr_in *)&req.arp_pa;
  pa->sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &pa->sin_addr) != 1) { napi_throw_type_error(env, "EINVAL", "bad ip"); return NULL; }
  req.arp_ha.sa_family = ARPHRD_ETHER;
  memcpy(req.arp_ha.sa_data, mac, maclen);
  req.arp_flags = ATF_COM;
  strncpy(req.arp_dev, ifname, sizeof req.arp_dev - 1);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int rc = ioctl(fd, SIOCSARP, &req);
  int e = errno;
  close(fd);
  if (rc < 0) return throw_errno(env, "SIOCSARP", e);
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
