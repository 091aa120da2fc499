{
  "targets": [
    {
      "target_name": "daxkit",
      "sources": [
        "native/core/sys.cc",
        "native/core/cpu.cc",
        "native/core/persist.cc",
        "native/core/guard.cc",
        "native/addon.cc",
        "native/errors.cc",
        "native/args.cc",
        "native/fds.cc",
        "native/region.cc",
        "native/guarded.cc",
        "native/mapping.cc",
        "native/io.cc",
        "native/cpu_info.cc",
        "native/fs_walk.cc",
        "native/fsxattr.cc",
        "native/fiemap.cc",
        "native/file_ops.cc",
        "native/calibrate/calibrate.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=gnu++17", "-fvisibility=hidden", "-Wall", "-Wextra"]
    }
  ]
}
