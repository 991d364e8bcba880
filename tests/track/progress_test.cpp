// The progress bar: the line it draws, and plain lines when the output is not a terminal.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "track/progress.h"

namespace llmtune::track {
namespace {

// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

TEST(ProgressBar, FormatDrawsBarStepLossRateSpeedAndEta) {
  EXPECT_EQ(ProgressBar::format(12, 100, 1.2341, 1e-5, 812.4, 83),
            "[##..................] step 12/100  loss 1.234  lr 1.00e-05  812 tok/s  ETA 01:23");
  EXPECT_EQ(ProgressBar::format(50, 100, 0.5, 2.5e-4, 1000, 0, 10),
            "[#####.....] step 50/100  loss 0.500  lr 2.50e-04  1000 tok/s  ETA 00:00");
  EXPECT_EQ(ProgressBar::format(100, 100, 0.01, 0, 0, 3725, 4),
            "[####] step 100/100  loss 0.010  lr 0.00e+00  0 tok/s  ETA 1:02:05");
  EXPECT_EQ(ProgressBar::format(0, 100, NAN, 1e-5, 0, -1, 4),
            "[....] step 0/100  loss nan  lr 1.00e-05  0 tok/s  ETA --:--");
  // Past the end and an unknown total do not overflow the bar.
  EXPECT_EQ(ProgressBar::format(120, 100, 1, 1, 1, 1, 4).substr(0, 6), "[####]");
  EXPECT_EQ(ProgressBar::format(5, 0, 1, 1, 1, 1, 4).substr(0, 6), "[....]");
}

TEST(ProgressBar, PlainLinesEveryNStepsWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressBar bar(25, 0, f, 10);
    for (int64_t step = 1; step <= 25; ++step) {
      bar.update(step, 2.0 / step, 1e-5, 100);
      if (step == 12) bar.message("eval_loss 0.5");
    }
    bar.finish();
    bar.finish();
  }
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.find('\033'), std::string::npos);
  // Steps 10, 20 and the last, with the message in between.
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 4u) << out;
  const size_t s10 = out.find("] step 10/25  loss 0.200  lr 1.00e-05  100 tok/s  ETA ");
  const size_t msg = out.find("eval_loss 0.5\n");
  const size_t s20 = out.find("] step 20/25  loss 0.100");
  const size_t s25 = out.find("[####################] step 25/25  loss 0.080");
  ASSERT_NE(s10, std::string::npos) << out;
  ASSERT_NE(msg, std::string::npos) << out;
  ASSERT_NE(s20, std::string::npos) << out;
  ASSERT_NE(s25, std::string::npos) << out;
  EXPECT_LT(s10, msg);
  EXPECT_LT(msg, s20);
  EXPECT_LT(s20, s25);
  EXPECT_NE(out.find("ETA 00:00\n"), std::string::npos) << out;  // nothing left at the end
}

TEST(ProgressBar, ResumedRunCountsFromItsFirstStep) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ProgressBar bar(100, 40, f, 20);
  bar.update(40, 1, 1e-5, 0);  // no step timed yet: no ETA
  bar.update(41, 1, 1e-5, 0);
  bar.update(60, 1, 1e-5, 0);
  bar.finish();
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_NE(out.find("step 40/100  loss 1.000  lr 1.00e-05  0 tok/s  ETA --:--\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("step 60/100"), std::string::npos) << out;
  EXPECT_EQ(out.find("step 41/100"), std::string::npos) << out;
}

}  // namespace
}  // namespace llmtune::track
