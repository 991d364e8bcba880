#include "core/error.h"

#include <exception>
#include <vector>

namespace llmtune {

namespace {
thread_local std::vector<std::string> t_activities;
thread_local std::string t_failure;
thread_local bool t_failure_fresh = false;  // set by the innermost failing scope
}  // namespace

Activity::Activity(std::string what) : uncaught_(std::uncaught_exceptions()) {
  t_activities.push_back(std::move(what));
  t_failure_fresh = false;  // new work: an earlier failure was handled
}

Activity::~Activity() {
  if (std::uncaught_exceptions() > uncaught_ && !t_failure_fresh) {
    t_failure = activity_describe();
    t_failure_fresh = true;
  }
  t_activities.pop_back();
}

std::string activity_describe() {
  std::string out;
  for (const std::string& a : t_activities) out += (out.empty() ? "" : ": ") + a;
  return out;
}

std::string activity_at_failure() {
  return t_failure_fresh ? t_failure : std::string();
}

void throw_check_failure(const char* cond, const char* file, int line, const std::string& message) {
  throw InternalError(str("internal error: check failed: ", cond, " at ", file, ":", line,
                          message.empty() ? "" : ": ", message));
}

}  // namespace llmtune
