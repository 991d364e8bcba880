#include "data/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/error.h"

namespace llmtune::data {

namespace {

int64_t nearest_rank(const std::vector<int64_t>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int64_t round_width(int64_t span, int bins) {
  const double raw = std::max(1.0, static_cast<double>(span) / std::max(1, bins));
  const double scale = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * scale >= raw) return std::max<int64_t>(1, static_cast<int64_t>(m * scale));
  }
  return static_cast<int64_t>(10 * scale);
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out.push_back(c);
  }
  return out;
}

}  // namespace

Summary summarize(const std::vector<int64_t>& values) {
  Summary s;
  s.count = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  std::vector<int64_t> v = values;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = nearest_rank(v, 0.5);
  s.p90 = nearest_rank(v, 0.9);
  s.p99 = nearest_rank(v, 0.99);
  s.mean = static_cast<double>(std::accumulate(v.begin(), v.end(), int64_t{0})) / s.count;
  return s;
}

Histogram histogram(const std::vector<int64_t>& values, int bins) {
  Histogram h;
  if (values.empty()) return h;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  h.width = round_width(*hi + 1 - *lo, bins);
  h.lo = *lo / h.width * h.width;
  return histogram_like(h, values);
}

Histogram histogram_like(const Histogram& shape, const std::vector<int64_t>& values) {
  Histogram h;
  h.lo = shape.lo;
  h.width = shape.width;
  h.counts = shape.counts;
  std::fill(h.counts.begin(), h.counts.end(), 0);
  for (int64_t v : values) {
    if (v < h.lo) throw Error(str("histogram value ", v, " is below the first bin"));
    const size_t bin = static_cast<size_t>((v - h.lo) / h.width);
    if (bin >= h.counts.size()) h.counts.resize(bin + 1, 0);
    ++h.counts[bin];
  }
  return h;
}

std::string histogram_text(const Histogram& h, int width) {
  const int64_t top = h.counts.empty() ? 0 : *std::max_element(h.counts.begin(), h.counts.end());
  std::string out;
  char line[256];
  for (size_t k = 0; k < h.counts.size(); ++k) {
    const int64_t lo = h.lo + static_cast<int64_t>(k) * h.width;
    const int bar =
        top == 0 ? 0
                 : static_cast<int>(std::lround(static_cast<double>(h.counts[k]) * width / top));
    std::snprintf(line, sizeof line, "%7lld-%-7lld | %-*s %lld\n", static_cast<long long>(lo),
                  static_cast<long long>(lo + h.width - 1), width,
                  std::string(static_cast<size_t>(bar), '#').c_str(),
                  static_cast<long long>(h.counts[k]));
    out += line;
  }
  return out;
}

std::string histogram_svg(const std::string& title, const std::vector<SvgSeries>& series,
                          int64_t marker, const std::string& marker_label) {
  const double w = 860, h = 440, left = 70, right = 20, top = 50, bottom = 60;
  size_t bins = 0;
  int64_t peak = 1, lo = 0, width = 1;
  for (const SvgSeries& s : series) {
    bins = std::max(bins, s.histogram.counts.size());
    for (int64_t c : s.histogram.counts) peak = std::max(peak, c);
    lo = s.histogram.lo;
    width = s.histogram.width;
  }
  // The axis reaches the marker only when it is near the data; a far one is named in the legend.
  const int64_t data_max = lo + static_cast<int64_t>(bins) * width;
  const bool marker_shown = marker > 0 && marker <= data_max + (data_max - lo) / 4;
  const int64_t x_max = marker_shown ? std::max(data_max, marker + width) : data_max;
  const double plot_w = w - left - right, plot_h = h - top - bottom;
  auto x_of = [&](double v) { return left + plot_w * (v - lo) / static_cast<double>(x_max - lo); };
  auto y_of = [&](double c) { return top + plot_h * (1.0 - c / static_cast<double>(peak)); };
  std::string svg;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                w, h, w, h);
  svg += buf;
  svg += "<text x=\"" + std::to_string(static_cast<int>(w / 2)) +
         "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" + escape(title) + "</text>\n";
  // Bars: series side by side within each bin.
  const double bin_px = plot_w * width / static_cast<double>(x_max - lo);
  const double bar_px = std::max(1.0, bin_px / std::max<size_t>(1, series.size()) - 1);
  for (size_t s = 0; s < series.size(); ++s) {
    const Histogram& hs = series[s].histogram;
    for (size_t k = 0; k < hs.counts.size(); ++k) {
      if (hs.counts[k] == 0) continue;
      const double x =
          x_of(static_cast<double>(hs.lo + static_cast<int64_t>(k) * hs.width)) + s * (bar_px + 1);
      const double y = y_of(static_cast<double>(hs.counts[k]));
      std::snprintf(
          buf, sizeof buf,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s: "
          "%lld-%lld tokens: %lld</title></rect>\n",
          x, y, bar_px, top + plot_h - y, series[s].color.c_str(), escape(series[s].name).c_str(),
          static_cast<long long>(hs.lo + static_cast<int64_t>(k) * hs.width),
          static_cast<long long>(hs.lo + static_cast<int64_t>(k + 1) * hs.width - 1),
          static_cast<long long>(hs.counts[k]));
      svg += buf;
    }
  }
  // Axes with five ticks each.
  std::snprintf(buf, sizeof buf,
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
                left, top + plot_h, left + plot_w, top + plot_h, left, top, left, top + plot_h);
  svg += buf;
  for (int t = 0; t <= 5; ++t) {
    const double xv = lo + (x_max - lo) * t / 5.0, yv = peak * t / 5.0;
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.0f</text>\n"
                  "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n",
                  x_of(xv), top + plot_h + 18, xv, left - 6, y_of(yv) + 4, yv);
    svg += buf;
  }
  std::snprintf(
      buf, sizeof buf,
      "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">tokens per sample</text>\n"
      "<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.0f)\">"
      "samples</text>\n",
      left + plot_w / 2, h - 16, top + plot_h / 2, top + plot_h / 2);
  svg += buf;
  if (marker_shown) {
    const double mx = x_of(static_cast<double>(marker));
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e15759\" "
                  "stroke-dasharray=\"6 4\"/>\n<text x=\"%.1f\" y=\"%.0f\" fill=\"#e15759\" "
                  "text-anchor=\"end\">%s</text>\n",
                  mx, top, mx, top + plot_h, mx - 4, top + plot_h - 8,
                  escape(marker_label).c_str());
    svg += buf;
  } else if (marker > 0) {
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%.0f\" y=\"%.0f\" fill=\"#e15759\">%s: beyond every sample</text>\n",
                  w - right - 260, top + 22 + 18.0 * series.size(), escape(marker_label).c_str());
    svg += buf;
  }
  for (size_t s = 0; s < series.size(); ++s) {  // legend
    std::snprintf(buf, sizeof buf,
                  "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                  "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                  w - right - 260, top + 8 + 18.0 * s, series[s].color.c_str(), w - right - 242,
                  top + 18 + 18.0 * s, escape(series[s].name).c_str());
    svg += buf;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace llmtune::data
