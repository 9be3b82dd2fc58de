{
  "targets": [
    {
      "target_name": "secret_scope",
      "sources": [
        "native/errors.cc",
        "native/arena.cc",
        "native/keystore.cc",
        "native/ops/common.cc",
        "native/ops/sha2.cc",
        "native/ops/hkdf.cc",
        "native/ops/aead.cc",
        "native/ops/x25519.cc",
        "native/ops/encoding.cc",
        "native/bindings/context.cc",
        "native/bindings/memory.cc",
        "native/bindings/keys.cc",
        "native/bindings/hkdf.cc",
        "native/bindings/aead.cc",
        "native/bindings/x25519.cc",
        "native/bindings/expose.cc",
        "native/bindings/testing.cc",
        "native/addon.cc"
      ],
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
      "libraries": ["<!(node native/sodium-lib.cjs <(target_arch))"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
