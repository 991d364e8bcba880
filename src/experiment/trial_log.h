// A trial process's output, copied into <trial directory>/trial.log as it goes to the terminal,
// so that the dashboard can show it (`experiment create` runs each trial through one).
#pragma once

#include <spawn.h>

#include <string>
#include <vector>

namespace llmtune::experiment {

class TrialLog {
 public:
  // Opens `path` for appending (a restarted trial adds to its log) and makes the pipes that the
  // child's stdout and stderr will write to.
  explicit TrialLog(const std::string& path);
  ~TrialLog();
  TrialLog(const TrialLog&) = delete;
  TrialLog& operator=(const TrialLog&) = delete;

  // For posix_spawn: the child's stdout and stderr into the pipes.
  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  // The child's environment: this one, plus LLMTUNE_PROGRESS_TTY=1 when stderr is a terminal
  // (the child's progress bar then still redraws in place, though it writes to a pipe), and
  // OMP_NUM_THREADS=omp_threads when that is > 0 (trials that share the machine's cores).
  char* const* environment(int omp_threads = 0);
  // After the spawn: copies the child's output to this process's stdout and stderr and to the
  // log until the child (and any process it started) closes them.
  void copy_until_closed();

 private:
  int log_ = -1;
  int out_[2] = {-1, -1}, err_[2] = {-1, -1};  // pipes: read end, write end
  posix_spawn_file_actions_t actions_;
  std::vector<std::string> env_;
  std::vector<char*> envp_;
};

// Prints `line` (what the parent has to say about a trial: a restart, a failure) to stderr and
// appends it to the trial's log at `path`, where it stands between the child's outputs.
void trial_log_note(const std::string& path, const std::string& line);

}  // namespace llmtune::experiment
