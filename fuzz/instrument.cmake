# Included by the top CMakeLists.txt before any library when ANCHORD_FUZZ is
# on: every library the fuzz targets link must carry libFuzzer's coverage
# counters and the sanitizers, or the fuzzer runs blind and memory errors in
# the libraries go unseen. The targets themselves add -fsanitize=fuzzer
# (fuzz/CMakeLists.txt), which brings libFuzzer's main.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR
        "ANCHORD_FUZZ needs clang for libFuzzer, not ${CMAKE_CXX_COMPILER_ID}: configure a fresh "
        "build directory with CXX=clang++-14 (fuzz/run.sh does), or use the \"fuzz\" preset")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
