# Install the kernel's Python package next to its extension (compiled and noarch builds).
include_guard(GLOBAL)

# kernel_install_python(DIR <dir> FILES ...)
# Ship the kernel's Python package (and the generated _ops.py) next to the extension.
function(kernel_install_python)
  cmake_parse_arguments(ARG "" "DIR" "FILES" ${ARGN})
  foreach(file IN LISTS ARG_FILES)
    get_filename_component(subdir "${file}" DIRECTORY)
    install(FILES "${ARG_DIR}/${file}" DESTINATION "${KERNEL_MODULE}/${subdir}")
  endforeach()
endfunction()
