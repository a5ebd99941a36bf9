// The command tree of anchorctl and what every subcommand shares: the global
// options, where output goes, and how a failure is reported.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>

#include "bus.hpp"
#include "failure.hpp"
#include "output.hpp"

namespace CLI {
class App;
}

namespace anchorctl {

struct GlobalOptions {
    bool json = false;
    BusOptions bus;
};

struct Context {
    Context(std::ostream& out_, std::ostream& err_, std::istream& in_, int out_fd_)
        : out(out_), err(err_), in(in_), out_fd(out_fd_) {}

    GlobalOptions options;
    std::ostream& out;
    std::ostream& err;
    std::istream& in;
    int out_fd;  // the descriptor behind `out`, to ask whether it is a terminal
    int exit_status = anchord::exit_status::ok;

    Painter painter() const { return Painter(colour_wanted(options.json, out_fd)); }
    std::unique_ptr<Anchord> connect() const { return std::make_unique<Anchord>(options.bus); }
    // A failure as --json or a person wants it; sets the exit status.
    void report(const Failure& failure);
};

// The exit status table, shown in every --help.
extern const char* const kExitStatusHelp;

// Footer of a subcommand's --help: its examples, the global options and
// the exit status table.
std::string help_footer(const std::string& examples);

// The subcommands, one file each (cmd_<name>.cpp).
void add_status_command(CLI::App& app, Context& context);
void add_list_command(CLI::App& app, Context& context);
void add_show_command(CLI::App& app, Context& context);
void add_verify_command(CLI::App& app, Context& context);
void add_enroll_command(CLI::App& app, Context& context);
void add_remove_command(CLI::App& app, Context& context);
void add_seal_command(CLI::App& app, Context& context);
void add_reconcile_command(CLI::App& app, Context& context);
void add_policy_command(CLI::App& app, Context& context);

// A --keyring or KEYRING value: one of the logical keyring names.
const std::vector<std::string>& logical_keyring_names();

// Parses argv, runs the subcommand and returns the exit status.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, std::istream& in,
        int out_fd);

}  // namespace anchorctl
