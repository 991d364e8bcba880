#include "core/interrupt.h"

#include <unistd.h>

#include <csignal>

namespace llmtune {

namespace {

volatile std::sig_atomic_t g_signal = 0;  // the first signal, or 0
volatile std::sig_atomic_t g_child = 0;   // the pid signals go to, or 0
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
  if (g_child > 0) {
    ::kill(static_cast<pid_t>(g_child), sig);
    return;
  }
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

void interrupt_forward_to(pid_t child) {
  g_child = child;
}

}  // namespace llmtune
