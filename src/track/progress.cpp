#include "track/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace llmtune::track {

namespace {

std::string eta_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

// The terminal's width in columns, or 0 when unknown.
int terminal_columns(std::FILE* out) {
  winsize w{};
  if (ioctl(fileno(out), TIOCGWINSZ, &w) != 0) return 0;
  return w.ws_col;
}

}  // namespace

ProgressBar::ProgressBar(int64_t total_steps, int64_t first_step, std::FILE* out,
                         int64_t every_plain)
    : total_(total_steps),
      first_step_(first_step),
      every_plain_(std::max<int64_t>(every_plain, 1)),
      out_(out),
      // LLMTUNE_PROGRESS_TTY: stderr is a pipe to a parent that copies it to a terminal.
      tty_(isatty(fileno(out)) != 0 || (out == stderr && std::getenv("LLMTUNE_PROGRESS_TTY"))),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  finish();
}

std::string ProgressBar::format(int64_t step, int64_t total, double loss, double lr,
                                double tokens_per_second, double eta_seconds, int width) {
  width = std::max(width, 0);
  const int64_t filled =
      total > 0 ? std::clamp<int64_t>(step * width / total, 0, width) : 0;  // floor: full at end
  std::string bar(1, '[');
  bar.append(filled, '#').append(width - filled, '.').append(1, ']');
  char buf[160];
  std::snprintf(buf, sizeof buf, " step %lld/%lld  loss %.3f  lr %.2e  %.0f tok/s  ETA ",
                static_cast<long long>(step), static_cast<long long>(total), loss, lr,
                tokens_per_second);
  return bar + buf + eta_text(eta_seconds);
}

void ProgressBar::update(int64_t step, double loss, double lr, double tokens_per_second) {
  if (finished_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = step - first_step_;
  const double eta = done > 0 ? elapsed / done * std::max<int64_t>(total_ - step, 0) : -1;
  const std::string line = format(step, total_, loss, lr, tokens_per_second, eta);
  if (tty_) {
    line_ = line;
    draw();
  } else if (step % every_plain_ == 0 || step == total_) {
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }
}

void ProgressBar::message(const std::string& line) {
  const bool bar_shown = tty_ && !line_.empty() && !finished_;
  if (bar_shown) std::fputs("\r\033[K", out_);
  std::fprintf(out_, "%s\n", line.c_str());
  if (bar_shown) draw();
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_ && !line_.empty()) std::fputs("\n", out_);
  std::fflush(out_);
}

void ProgressBar::draw() {
  // A line wider than the terminal would wrap, and \r would then redraw only its last part.
  const int columns = terminal_columns(out_);
  const std::string shown = columns > 1 && line_.size() >= static_cast<size_t>(columns)
                                ? line_.substr(0, columns - 1)
                                : line_;
  std::fprintf(out_, "\r%s\033[K", shown.c_str());
  std::fflush(out_);
}

}  // namespace llmtune::track
