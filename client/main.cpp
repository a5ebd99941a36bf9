// anchorctl: the client of anchord. Everything but this entry point lives
// in anchorctl_core, so the tests link the same code.
#include <unistd.h>

#include <iostream>

#include "app.hpp"

int main(int argc, char** argv) {
    return anchorctl::run(argc, argv, std::cout, std::cerr, std::cin, STDOUT_FILENO);
}
