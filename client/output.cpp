#include "output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace anchorctl {
namespace {

std::string_view escape_for(Colour colour) {
    switch (colour) {
        case Colour::Red:
            return "\033[31m";
        case Colour::Green:
            return "\033[32m";
        case Colour::Yellow:
            return "\033[33m";
        case Colour::Dim:
            return "\033[2m";
        case Colour::Bold:
            return "\033[1m";
        case Colour::None:
            break;
    }
    return "";
}

int rank(anchord::Outcome outcome) {
    switch (outcome) {
        case anchord::Outcome::Fail:
            return 0;
        case anchord::Outcome::Warn:
            return 1;
        default:
            return 2;
    }
}

Cell outcome_cell(anchord::Outcome outcome) {
    switch (outcome) {
        case anchord::Outcome::Fail:
            return {"FAIL", Colour::Red};
        case anchord::Outcome::Warn:
            return {"warn", Colour::Yellow};
        case anchord::Outcome::Pass:
            return {"pass", Colour::Green};
        case anchord::Outcome::Skip:
            break;
    }
    return {"skip", Colour::Dim};
}

}  // namespace

bool colour_wanted(bool json, int fd) {
    if (json) return false;
    if (std::getenv("NO_COLOR") != nullptr) return false;
    if (const char* term = std::getenv("TERM"); term != nullptr && std::strcmp(term, "dumb") == 0) {
        return false;
    }
    return ::isatty(fd) == 1;
}

std::string Painter::paint(std::string_view text, Colour colour) const {
    if (!enabled_ || colour == Colour::None) return std::string(text);
    std::string out(escape_for(colour));
    out += text;
    out += "\033[0m";
    return out;
}

std::size_t display_width(std::string_view utf8) noexcept {
    return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

void Table::render(std::ostream& out, const Painter& painter, std::string_view indent) const {
    std::size_t columns = headers_.size();
    for (const auto& row : rows_) columns = std::max(columns, row.size());
    std::vector<std::size_t> widths(columns, 0);
    for (std::size_t i = 0; i < headers_.size(); ++i) widths[i] = display_width(headers_[i]);
    for (const auto& row : rows_) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], display_width(row[i].text));
        }
    }
    const auto line = [&](const std::vector<Cell>& cells) {
        out << indent;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            out << painter.paint(cells[i].text, cells[i].colour);
            if (i + 1 < cells.size()) {
                out << std::string(widths[i] - display_width(cells[i].text) + 2, ' ');
            }
        }
        out << '\n';
    };
    if (!headers_.empty()) {
        std::vector<Cell> header;
        for (const auto& h : headers_) header.push_back({h, Colour::Bold});
        line(header);
    }
    for (const auto& row : rows_) line(row);
}

std::vector<CheckResult> display_order(const std::vector<CheckResult>& checks) {
    std::vector<CheckResult> out = checks;
    std::stable_sort(out.begin(), out.end(), [](const CheckResult& a, const CheckResult& b) {
        return rank(a.outcome) < rank(b.outcome);
    });
    return out;
}

void print_result(std::ostream& out, const CertificateResult& result, const Painter& painter,
                  ResultView view) {
    out << '[' << result.index << "] ";
    if (result.file) out << *result.file << "  ";
    out << result.fingerprint.value_or("(unreadable certificate)") << "  ";
    if (result.accepted && result.serial) {
        out << painter.paint("ENROLLED", Colour::Green) << " as key " << *result.serial;
    } else if (result.accepted && view.enroll) {
        out << painter.paint("ACCEPTED, NOT ENROLLED", Colour::Yellow);
    } else if (result.accepted) {
        out << painter.paint("ACCEPTED", Colour::Green);
    } else {
        out << painter.paint("REFUSED", Colour::Red);
    }
    out << '\n';
    if (!view.details) return;

    Table details;
    if (result.kernel.accepted) {
        details.add_row({{"kernel", Colour::None}, {"accepted", Colour::Green}});
    } else {
        std::string answer = "refused";
        if (result.kernel.error) answer += " (" + *result.kernel.error + ")";
        if (!result.kernel.reason.empty()) answer += ": " + result.kernel.reason;
        details.add_row({{"kernel", Colour::None}, {answer, Colour::Red}});
    }
    if (result.belongs_in) {
        details.add_row({{"belongs in", Colour::None}, {*result.belongs_in, Colour::Yellow}});
    }
    details.render(out, painter, "    ");

    Table checks;
    for (const auto& check : display_order(result.checks)) {
        checks.add_row({outcome_cell(check.outcome), {check.id}, {check.reason}});
    }
    checks.render(out, painter, "    ");
}

void print_json(std::ostream& out, const Json& document) {
    out << document.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

Json error_json(const Failure& failure) {
    return {{"name", failure.name()},
            {"message", failure.what()},
            {"exit_status", failure.exit_status()}};
}

}  // namespace anchorctl
