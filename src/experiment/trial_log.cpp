#include "experiment/trial_log.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

extern char** environ;

namespace llmtune::experiment {

namespace {

// Writes all of `n` bytes, or gives up quietly: a full disk or a closed terminal must not stop
// the trial, whose output is only being copied.
void write_all(int fd, const char* p, ssize_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, static_cast<size_t>(n));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= w;
  }
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

TrialLog::TrialLog(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  log_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_ < 0) throw Error(str("cannot write the trial log ", path, ": ", std::strerror(errno)));
  if (::pipe2(out_, O_CLOEXEC) != 0 || ::pipe2(err_, O_CLOEXEC) != 0) {
    throw Error(str("cannot make pipes for a trial's output: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_init(&actions_);
  posix_spawn_file_actions_adddup2(&actions_, out_[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions_, err_[1], STDERR_FILENO);
}

TrialLog::~TrialLog() {
  posix_spawn_file_actions_destroy(&actions_);
  for (int* fd : {&out_[0], &out_[1], &err_[0], &err_[1], &log_}) close_fd(*fd);
}

char* const* TrialLog::environment(int omp_threads) {
  env_.clear();
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LLMTUNE_PROGRESS_TTY=", 21) == 0) continue;
    if (omp_threads > 0 && std::strncmp(*e, "OMP_NUM_THREADS=", 16) == 0) continue;
    env_.emplace_back(*e);
  }
  if (::isatty(STDERR_FILENO)) env_.emplace_back("LLMTUNE_PROGRESS_TTY=1");
  if (omp_threads > 0) env_.push_back("OMP_NUM_THREADS=" + std::to_string(omp_threads));
  envp_.clear();
  for (std::string& e : env_) envp_.push_back(e.data());
  envp_.push_back(nullptr);
  return envp_.data();
}

void TrialLog::copy_until_closed() {
  close_fd(out_[1]);  // the child holds its own copies now
  close_fd(err_[1]);
  pollfd fds[2] = {{out_[0], POLLIN, 0}, {err_[0], POLLIN, 0}};
  const int to[2] = {STDOUT_FILENO, STDERR_FILENO};
  char buf[8192];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // closed: poll ignores negative descriptors
        continue;
      }
      write_all(to[i], buf, n);
      write_all(log_, buf, n);
    }
  }
}

void trial_log_note(const std::string& path, const std::string& line) {
  const std::string text = line + "\n";
  write_all(STDERR_FILENO, text.data(), static_cast<ssize_t>(text.size()));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;  // the note is on the terminal; the log is a copy
  write_all(fd, text.data(), static_cast<ssize_t>(text.size()));
  ::close(fd);
}

}  // namespace llmtune::experiment
