// TensorBoard event files without TensorFlow: TFRecord framing (length, masked CRC32C) around
// hand-encoded Event protos holding scalar summaries, so `tensorboard --logdir` shows the curves.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/checksum.h"

namespace llmtune::track {

// TFRecord's mask (of llmtune::crc32c, core/checksum.h): ((crc >> 15) | (crc << 17)) + 0xA282EAD8.
uint32_t masked_crc32c(const void* data, size_t size);

class EventWriter {
 public:
  // Creates `dir` and the file events.out.tfevents.{time:010d}.{hostname}.{pid}.llmtune in it,
  // starting with the file_version "brain.Event:2" event. Throws llmtune::Error naming the path.
  explicit EventWriter(const std::string& dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // One Event{wall_time, step, summary{value{tag, simple_value}}}; flushed at once, so a crash
  // loses nothing written before it.
  void scalar(const std::string& tag, int64_t step, double value, double wall_time = -1);
  const std::string& path() const { return path_; }

 private:
  void record(const std::string& data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Hugging Face's TensorBoardCallback tag names: "eval_x" -> "eval/x", "test_x" -> "test/x",
// anything else -> "train/x".
std::string tensorboard_tag(const std::string& key);

}  // namespace llmtune::track
