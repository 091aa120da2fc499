{
  "targets": [
    {
      "target_name": "daxkit",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/errors.cc",
        "native/cpu.cc",
        "native/guard.cc",
        "native/sys.cc",
        "native/region.cc",
        "native/mapping.cc",
        "native/fsops.cc",
        "native/calibrate.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=gnu++17", "-fvisibility=hidden", "-Wall", "-Wextra"]
    }
  ]
}
