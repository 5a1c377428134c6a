# zerorl_add_library / zerorl_add_test: every layer and test is declared through these two helpers,
# so warnings, sanitizers, the torch PCH and the allowed dependencies live in one place.

# GCC 13's libstdc++ raises false -Warray-bounds / -Wstringop-overflow inside std::vector copies at -O3;
# they stay warnings there (GCC 12, Debian's, keeps them as errors).
# ZERORL_WERROR=OFF (scripts/gpu_build.sh): another compiler than the one CI holds the warnings to.
option(ZERORL_WERROR "Warnings are errors" ON)
set(ZERORL_WARNINGS -Wall -Wextra $<$<BOOL:${ZERORL_WERROR}>:-Werror> -Wno-unused-parameter
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_GREATER_EQUAL:$<CXX_COMPILER_VERSION>,13>>:-Wno-error=array-bounds$<SEMICOLON>-Wno-error=stringop-overflow$<SEMICOLON>-Wno-error=dangling-reference>)

function(zerorl_common_options target)
  target_compile_options(${target} PRIVATE ${ZERORL_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
  if(ZERORL_SANITIZE)
    # GCC's sanitizer instrumentation makes -Wmaybe-uninitialized report false positives inside libstdc++
    # (std::regex, std::function); the plain Release build keeps the warning as an error.
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
                           -Wno-maybe-uninitialized)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
endfunction()

# Allowed layer dependencies (docs/design.md). A layer that names anything else fails at configure time.
set(ZERORL_ALLOWED_core "")
set(ZERORL_ALLOWED_tokenizer core)
set(ZERORL_ALLOWED_verifiers core)
set(ZERORL_ALLOWED_rewards verifiers core)
set(ZERORL_ALLOWED_kernels core)  # CUDA kernels and their LibTorch twins
set(ZERORL_ALLOWED_model kernels core)
set(ZERORL_ALLOWED_algo kernels core)
set(ZERORL_ALLOWED_dist_wire core)  # dist/'s torch-free rollout wire format and control plane
set(ZERORL_ALLOWED_rollout model kernels tokenizer dist_wire core)
set(ZERORL_ALLOWED_dist dist_wire core)
set(ZERORL_ALLOWED_trainer core tokenizer verifiers rewards kernels model algo rollout dist dist_wire)
set(ZERORL_ALLOWED_apps trainer core tokenizer verifiers rewards kernels model algo rollout dist dist_wire)

# zerorl_add_library(<layer> SOURCES ... DEPS <layers> [TORCH] [LIBS <third-party>])
function(zerorl_add_library layer)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;DEPS;LIBS" ${ARGN})
  foreach(dep ${ARG_DEPS})
    if(NOT dep IN_LIST ZERORL_ALLOWED_${layer})
      message(FATAL_ERROR "layer '${layer}' may not depend on '${dep}' (docs/design.md allows: ${ZERORL_ALLOWED_${layer}})")
    endif()
  endforeach()
  set(target zerorl_${layer})
  add_library(${target} STATIC ${ARG_SOURCES})
  zerorl_common_options(${target})
  foreach(dep ${ARG_DEPS})
    target_link_libraries(${target} PUBLIC zerorl_${dep})
  endforeach()
  target_link_libraries(${target} PUBLIC ${ARG_LIBS})
  if(ARG_TORCH)
    target_link_libraries(${target} PUBLIC zerorl_torch)
    target_precompile_headers(${target} REUSE_FROM zerorl_torch_pch)
  endif()
endfunction()

# zerorl_add_test(<name> SOURCES ... LIBS ... LABEL unit|slow|gpu|dist [TORCH] [TIMEOUT s])
function(zerorl_add_test name)
  cmake_parse_arguments(ARG "TORCH" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  zerorl_common_options(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  if(ARG_TORCH)
    target_precompile_headers(${name} REUSE_FROM zerorl_torch_pch)
    target_link_libraries(${name} PRIVATE zerorl_torch)
  endif()
  # COST = the timeout: a fresh checkout has no timing history, and ctest then starts the costliest tests
  # first, so the long slow tests overlap the many short ones instead of trailing them.
  gtest_discover_tests(${name}
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT} COST ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 120)
endfunction()
