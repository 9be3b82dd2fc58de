{
  "targets": [
    {
      "target_name": "secret_scope",
      "sources": ["<!@(node native/sources.cjs)"],
      "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags": ["-fvisibility=hidden", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-dangling-pointer"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-fno-exceptions"],
      "ldflags": [
        "-Wl,--exclude-libs,ALL",
        "-Wl,-z,relro,-z,now,-z,noexecstack",
        "-static-libstdc++",
        "-static-libgcc"
      ],
      "libraries": ["<!(node native/sodium-lib.cjs <(target_arch))", "<!(node native/bearssl-lib.cjs <(target_arch))"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
