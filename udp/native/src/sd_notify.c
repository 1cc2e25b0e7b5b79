// sd_notify(3) for flanneld's Type=notify unit: one datagram on the AF_UNIX socket systemd names in
// $NOTIFY_SOCKET. Native because Node's dgram has no AF_UNIX datagram sockets; built beside the udp loop
// so the project keeps one native build.
#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, e;
  napi_create_string_utf8(env, err == 0 ? "EINVAL" : strerrorname_np(err) ? strerrorname_np(err) : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &e);
  napi_throw(env, e);
  return NULL;
}

// notify(socketPath, state): sends `state` ("READY=1\n...") to socketPath; '@' starts an abstract name.
static napi_value js_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_errno(env, "notify(socketPath, state)", EINVAL);
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok) return throw_errno(env, "socket path", EINVAL);
  if (plen == 0 || plen >= sizeof(((struct sockaddr_un *)0)->sun_path) || (path[0] != '/' && path[0] != '@')) {
    return throw_errno(env, "NOTIFY_SOCKET must be an absolute path or an abstract name starting with @", EINVAL);
  }
  size_t slen = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &slen) != napi_ok) return throw_errno(env, "state", EINVAL);
  char state[4096];
  if (slen >= sizeof state) return throw_errno(env, "state longer than 4 KiB", EMSGSIZE);
  napi_get_value_string_utf8(env, argv[1], state, sizeof state, &slen);

  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, plen);
  if (path[0] == '@') addr.sun_path[0] = 0;
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_UNIX, SOCK_DGRAM)", errno);
  ssize_t n = sendto(fd, state, slen, MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
  int err = errno;
  close(fd);
  if (n < 0) return throw_errno(env, path, err);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"notify", NULL, js_notify, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}
