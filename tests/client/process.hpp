// Runs the real anchorctl binary as a child process, as a person or a
// script would, and collects its exit status and output.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace anchorctl::testing {

struct RunOptions {
    std::string input;  // fed to standard input
    // Environment changes: a value sets the variable, nullopt removes it.
    std::vector<std::pair<std::string, std::optional<std::string>>> env;
    bool stdout_tty = false;   // standard output on a pseudo-terminal
    std::optional<uid_t> uid;  // run as this user (and its primary group)
    std::string cwd;           // run in this folder; empty: the test's own
};

struct RunResult {
    int exit_status = -1;  // -1: killed or did not end in time
    std::string out;
    std::string err;
};

// ANCHORD_BINARY_DIR/client/anchorctl
std::string anchorctl_path();

RunResult run_anchorctl(const std::vector<std::string>& args, const RunOptions& options = {});

// Standard output of a shell command line, or nullopt when the shell failed.
std::optional<std::string> shell_output(const std::string& command);

}  // namespace anchorctl::testing
