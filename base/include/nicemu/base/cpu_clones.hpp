// nicemu/base/cpu_clones.hpp — NICEMU_CPU_CLONES: an AVX-512 (x86-64-v4), an AVX2 and a baseline
// build of a hot loop, chosen once at load time by the CPU (GCC function multi-versioning, an
// ifunc). The AVX-512 build halves the instructions of the byte passes on CPUs that have it.
// ThreadSanitizer cannot run an ifunc resolver (the loader calls it before the sanitizer's
// runtime starts), so a -fsanitize=thread build gets the baseline only.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define NICEMU_CPU_CLONES
#else
#define NICEMU_CPU_CLONES [[gnu::target_clones("arch=x86-64-v4", "avx2", "default")]]
#endif
