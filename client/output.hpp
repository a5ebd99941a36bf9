// What a person and a program see: aligned tables, short verdicts, colour
// only where it helps (a terminal, no NO_COLOR, no --json), and exactly one
// JSON document for --json.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "failure.hpp"
#include "model.hpp"

namespace anchorctl {

enum class Colour { None, Red, Green, Yellow, Dim, Bold };

// Colour is wanted only on a terminal, never when NO_COLOR is set (to any
// value, https://no-color.org) or TERM is "dumb", and never for JSON.
bool colour_wanted(bool json, int fd);

class Painter {
  public:
    explicit Painter(bool enabled) : enabled_(enabled) {}
    bool enabled() const noexcept { return enabled_; }
    std::string paint(std::string_view text, Colour colour) const;

  private:
    bool enabled_;
};

struct Cell {
    std::string text;
    Colour colour = Colour::None;
};

// Columns padded to their widest cell (counted in characters, not bytes);
// the last column is not padded, so no line ends in blanks.
class Table {
  public:
    explicit Table(std::vector<std::string> headers = {}) : headers_(std::move(headers)) {}
    void add_row(std::vector<Cell> row) { rows_.push_back(std::move(row)); }
    bool empty() const noexcept { return rows_.empty(); }
    void render(std::ostream& out, const Painter& painter, std::string_view indent = "") const;

  private:
    std::vector<std::string> headers_;
    std::vector<std::vector<Cell>> rows_;
};

// The number of characters of UTF-8 text (what a terminal column holds).
std::size_t display_width(std::string_view utf8) noexcept;

// Checks in the order a person reads them: failed first, then warnings,
// then the others in the order they ran.
std::vector<CheckResult> display_order(const std::vector<CheckResult>& checks);

// How much of a verdict to show, and in which words.
struct ResultView {
    bool enroll = false;  // an Enroll's result: accepted without a serial was not enrolled
    bool details = true;  // the kernel's answer and every check
};

// One certificate's verdict: a header line, then (with details) the
// kernel's answer and every check with its outcome and reason.
void print_result(std::ostream& out, const CertificateResult& result, const Painter& painter,
                  ResultView view = {});

// "yes"/"no" for a person.
inline std::string_view yes_no(bool value) {
    return value ? "yes" : "no";
}

// The one JSON document of a --json run, ended by a newline. Text that is
// not UTF-8 (a key description) is replaced, never a reason to fail.
void print_json(std::ostream& out, const Json& document);

// The value of "error" ({"name", "message", "exit_status"}) that --json
// adds to a document, or prints alone, when a command fails.
Json error_json(const Failure& failure);

}  // namespace anchorctl
