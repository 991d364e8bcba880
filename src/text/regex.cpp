#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/regex.h"

#include <pcre2.h>

#include <mutex>

#include "core/error.h"

namespace llmtune::text {

namespace {

// PCRE2's own defaults allow 20 GB of backtracking memory; a pattern from a downloaded
// tokenizer.json gets these instead. Real pre-tokenizer patterns need a few hundred steps and a
// few KiB per match. The JIT, when present, obeys kMatchLimit and its own 32 KiB stack.
constexpr uint32_t kMatchLimit = 10'000'000;  // backtracking steps per match
constexpr uint32_t kDepthLimit = 100'000;     // nested backtracking points per match
constexpr uint32_t kHeapLimitKiB = 64 << 10;  // backtracking memory per match (64 MiB)

}  // namespace

struct Regex::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  std::string pattern, origin;
};

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR message[256];
  pcre2_get_error_message(code, message, sizeof message);
  return reinterpret_cast<const char*>(message);
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& origin)
    : impl_(std::make_unique<Impl>()) {
  impl_->pattern = pattern;
  impl_->origin = origin;
  int error = 0;
  PCRE2_SIZE offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (impl_->code == nullptr) {
    throw Error(str(origin, ": regular expression ", pattern, " does not compile at offset ",
                    offset, ": ", pcre2_message(error)));
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if absent
  impl_->context = pcre2_match_context_create(nullptr);
  if (impl_->context == nullptr) throw OutOfMemory(str(origin, ": a PCRE2 match context"));
  pcre2_set_match_limit(impl_->context, kMatchLimit);
  pcre2_set_depth_limit(impl_->context, kDepthLimit);
  pcre2_set_heap_limit(impl_->context, kHeapLimitKiB);
}

Regex::~Regex() {
  if (impl_ && impl_->context) pcre2_match_context_free(impl_->context);
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view s) const {
  std::vector<std::pair<size_t, size_t>> out;
  // Match data per thread and pattern size; creating it per call would dominate short inputs.
  thread_local std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create(32, nullptr), &pcre2_match_data_free);
  size_t start = 0;
  while (start <= s.size()) {
    const int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), start,
                               start > 0 ? PCRE2_NO_UTF_CHECK : 0, data.get(), impl_->context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw Error(str(impl_->origin, ": regular expression ", impl_->pattern,
                      " failed on a text of ", s.size(), " bytes: ", pcre2_message(rc),
                      " (the limits are ", kMatchLimit, " backtracking steps, depth ", kDepthLimit,
                      " and ", kHeapLimitKiB >> 10,
                      " MiB per match: a pattern that backtracks catastrophically; fix or "
                      "replace it)"));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
    const size_t b = ov[0], e = ov[1];
    if (e == b) {  // an empty match: step over one character
      if (b >= s.size()) break;
      size_t next = b + 1;
      while (next < s.size() && (static_cast<unsigned char>(s[next]) & 0xC0) == 0x80) ++next;
      start = next;
      continue;
    }
    out.emplace_back(b, e);
    start = e;
  }
  return out;
}

}  // namespace llmtune::text
