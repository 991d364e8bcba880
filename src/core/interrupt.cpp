#include "core/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace llmtune {

namespace {

volatile std::sig_atomic_t g_signal = 0;  // the first signal, or 0
// The pids signals go to (0: a free slot); lock-free atomics, so the handler may read them.
constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];
static_assert(std::atomic<pid_t>::is_always_lock_free);
bool g_installed = false;

void say(const char* text) {
  size_t n = 0;
  while (text[n] != '\0') ++n;
  const ssize_t ignored = ::write(STDERR_FILENO, text, n);  // all a handler may do to speak
  (void)ignored;
}

// Only async-signal-safe calls: write, kill, _exit.
void on_signal(int sig) {
  const bool first = g_signal == 0;
  if (first) g_signal = sig;
  bool forwarded = false;
  for (std::atomic<pid_t>& child : g_children) {
    const pid_t pid = child.load();
    if (pid > 0) {
      ::kill(pid, sig);
      forwarded = true;
    }
  }
  if (forwarded) return;
  if (!first) {
    say("\nsecond signal: exiting now; every checkpoint on disk is complete\n");
    ::_exit(128 + sig);
  }
  say("\nsignal received: stopping at the next step boundary with a checkpoint "
      "(send it again to exit at once)\n");
}

}  // namespace

void interrupt_install() {
  if (g_installed) return;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  g_installed = true;
}

int interrupt_requested() {
  return g_signal;
}

void interrupt_forward_add(pid_t child) {
  for (std::atomic<pid_t>& c : g_children) {
    pid_t free = 0;
    if (c.compare_exchange_strong(free, child)) return;
  }
}

void interrupt_forward_remove(pid_t child) {
  for (std::atomic<pid_t>& c : g_children) {
    pid_t mine = child;
    if (c.compare_exchange_strong(mine, 0)) return;
  }
}

}  // namespace llmtune
