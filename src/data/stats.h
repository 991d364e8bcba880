// Length statistics of a tokenized dataset: summaries, a terminal histogram and an SVG chart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmtune::data {

struct Summary {
  int64_t count = 0, min = 0, max = 0, median = 0, p90 = 0, p99 = 0;
  double mean = 0;
};

// Percentiles by the nearest-rank method.
Summary summarize(const std::vector<int64_t>& values);

// Equal-width bins [lo + k*width, lo + (k+1)*width) covering every value.
struct Histogram {
  int64_t lo = 0, width = 1;
  std::vector<int64_t> counts;
};

// About `bins` bins of a round width (1, 2, 5 x 10^k) from the smallest value (rounded down to
// the width) to the largest.
Histogram histogram(const std::vector<int64_t>& values, int bins = 20);
// The same bins for another series (so two series can be compared bin by bin).
Histogram histogram_like(const Histogram& shape, const std::vector<int64_t>& values);

// Rows "  lo-hi | #####   count", bars scaled to `width` characters.
std::string histogram_text(const Histogram& h, int width = 50);

struct SvgSeries {
  std::string name;
  Histogram histogram;
  std::string color;  // "#4e79a7"
};

// A bar chart of one or more series sharing bins, with axes, a legend, and a dashed vertical
// line at `marker` (e.g. max_length; <= 0 for none).
std::string histogram_svg(const std::string& title, const std::vector<SvgSeries>& series,
                          int64_t marker, const std::string& marker_label);

}  // namespace llmtune::data
