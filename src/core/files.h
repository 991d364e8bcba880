// Reading whole files a user names: only regular files (a FIFO or /dev/zero would block or never
// end), every byte or an error, never a silently short read.
#pragma once

#include <string>

namespace llmtune {

// The file's bytes. Throws llmtune::Error naming the path when it is missing, not a regular
// file or unreadable, and OutOfMemory when its size cannot be held.
std::string read_file(const std::string& path);
// The same, with `hint` (what the file is for, what to check) after a failure's message; out
// of memory is reported as it is.
std::string read_file(const std::string& path, const std::string& hint);

}  // namespace llmtune
