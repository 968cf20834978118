{
  "targets": [
    {
      "target_name": "dcplane_net",
      "sources": ["native/dcplane_net.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
