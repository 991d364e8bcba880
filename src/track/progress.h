// A terminal progress bar for training: one line redrawn in place on a terminal, plain lines
// every few steps when the output is a file or a pipe (a log, a CI job).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace llmtune::track {

class ProgressBar {
 public:
  // total_steps: the run's optimizer steps; out: where to draw (stderr by default). When `out` is
  // not a terminal (isatty false) it prints one plain line every `every_plain` steps (and at the
  // last step) instead of redrawing with \r. first_step: where a resumed run starts, so that the
  // ETA counts only the steps this process has timed.
  ProgressBar(int64_t total_steps, int64_t first_step = 0, std::FILE* out = stderr,
              int64_t every_plain = 10);
  ~ProgressBar();  // finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Redraws: "[#####.....] step 12/100  loss 1.234  lr 1.00e-05  812 tok/s  ETA 01:23"
  void update(int64_t step, double loss, double lr, double tokens_per_second);
  void message(const std::string& line);  // prints a line above the bar (e.g. eval results)
  void finish();                          // ends the bar's line; later calls do nothing

  // The line update() draws, without terminal control codes (for tests). A negative or
  // non-finite eta_seconds prints "ETA --:--"; an hour or more prints h:mm:ss.
  static std::string format(int64_t step, int64_t total, double loss, double lr,
                            double tokens_per_second, double eta_seconds, int width = 20);

 private:
  void draw();  // the last line, over the current terminal line

  int64_t total_, first_step_, every_plain_;
  std::FILE* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::string line_;  // the bar last drawn; empty when none is on screen
  bool finished_ = false;
};

}  // namespace llmtune::track
