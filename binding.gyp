{
  # daxkit_test=1 is the test build (test/native/binding.gyp): the same
  # targets with the test hooks compiled in, built apart and never shipped.
  "variables": { "daxkit_test%": 0 },
  "target_defaults": {
    "dependencies": [
      "<!(node -p \"require('node-addon-api').targets\"):node_addon_api"
    ],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
    "cflags_cc": ["-std=gnu++17", "-fvisibility=hidden", "-Wall", "-Wextra"]
  },
  "targets": [
    {
      # The addon: what users load.
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
        "native/file_ops.cc"
      ],
      "conditions": [
        ["daxkit_test==1", {
          "defines": ["DAXKIT_TEST=1"],
          "sources": ["native/core/trace.cc", "native/test_hooks.cc"]
        }]
      ]
    }
  ],
  "conditions": [
    # The test build leaves it out: its sources are reached through ../.., which
    # would give both targets the same object files there.
    ["daxkit_test==0", {
      "targets": [
        {
          # The benchmark's native calibration (daxkit bench --calibrate): a
          # module of its own, build/Release/daxkit_calibrate.node. node-gyp-build
          # and prebuildify take the first .node of build/Release in name order,
          # which is daxkit.node ('.' sorts before '_'); lib/bench/native.ts
          # loads this one by name, and prepack ships it apart, in
          # prebuilds/<platform>-<arch>/calibrate/.
          "target_name": "daxkit_calibrate",
          "sources": [
            "native/core/cpu.cc",
            "native/core/persist.cc",
            "native/core/guard.cc",
            "native/errors.cc",
            "native/args.cc",
            "native/calibrate/loops.cc",
            "native/calibrate/calibrate.cc"
          ]
        }
      ]
    }]
  ]
}
