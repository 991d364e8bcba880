#include "core/error.h"

namespace llmtune {

void throw_check_failure(const char* cond, const char* file, int line, const std::string& message) {
  throw InternalError(str("internal error: check failed: ", cond, " at ", file, ":", line,
                          message.empty() ? "" : ": ", message));
}

}  // namespace llmtune
