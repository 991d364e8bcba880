#include "backend/cpu/blas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace llmtune::cpu {

namespace {

// OpenBLAS picks its kernels once, when the library initializes, from the CPU model it knows.
// Releases older than the CPU (Debian 12's 0.3.21 on AMD Zen 4/5) fall back to the AVX2
// "Haswell" kernels although the CPU has AVX-512, at half the speed. Loading the library
// ourselves lets us name the AVX-512 kernels first; a user's own OPENBLAS_CORETYPE wins.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
using CorenameFn = char* (*)();

struct Blas {
  SgemmFn sgemm = nullptr;
  CorenameFn corename = nullptr;
  std::string path;
};

const Blas& blas() {
  static Blas lib;
  static std::once_flag once;
  std::call_once(once, [] {
    __builtin_cpu_init();
    if (std::getenv("OPENBLAS_CORETYPE") == nullptr && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl")) {
      setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
    }
    const char* candidates[] = {std::getenv("LLMTUNE_OPENBLAS"), LLMTUNE_OPENBLAS_PATH,
                                "libopenblas.so.0"};
    void* handle = nullptr;
    std::string errors;
    for (const char* path : candidates) {
      if (path == nullptr || *path == 0) continue;
      handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) {
        lib.path = path;
        break;
      }
      errors += str("\n  ", dlerror());
    }
    if (handle == nullptr) {
      throw Error(
          str("cannot load OpenBLAS:", errors,
              "\ninstall it with `apt-get install libopenblas-openmp-dev` "
              "(scripts/install-deps.sh does) or point LLMTUNE_OPENBLAS at libopenblas.so"));
    }
    lib.sgemm = reinterpret_cast<SgemmFn>(dlsym(handle, "cblas_sgemm"));
    lib.corename = reinterpret_cast<CorenameFn>(dlsym(handle, "openblas_get_corename"));
    if (lib.sgemm == nullptr) throw Error(str(lib.path, " has no cblas_sgemm; is it OpenBLAS?"));
  });
  return lib;
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  blas().sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, m, n, k, alpha,
               a, lda, b, ldb, beta, c, ldc);
}

std::string blas_core() {
  const Blas& lib = blas();
  return lib.corename ? lib.corename() : "unknown";
}

std::string blas_info() {
  return str("OpenBLAS ", blas_core(), " (", blas().path, ")");
}

}  // namespace llmtune::cpu
