# bpftape_bpf_skeleton(NAME SOURCE src.bpf.c [DEPENDS headers...])
#
# Compiles one CO-RE BPF program (clang -target bpf, -g for BTF/CO-RE relocations) into
# ${CMAKE_CURRENT_BINARY_DIR}/NAME.bpf.o and turns it into a libbpf skeleton header
# NAME.skel.h (bpftool gen skeleton). Defines target NAME_skel; consumers add_dependencies on it
# and put ${CMAKE_CURRENT_BINARY_DIR} on their include path.
#
# vmlinux.h comes from BPFTAPE_VMLINUX_DIR (the checked-in dump under bpf/vmlinux/<arch>/ by
# default), never from the build host's /sys/kernel/btf: CO-RE relocates field offsets at load
# time, so one header serves every kernel with BTF.
function(bpftape_bpf_skeleton name)
  cmake_parse_arguments(ARG "" "SOURCE" "DEPENDS" ${ARGN})
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" arch)
  if(arch MATCHES "x86_64|amd64")
    set(target_arch x86)
  elseif(arch MATCHES "aarch64|arm64")
    set(target_arch arm64)
  else()
    set(target_arch ${arch})
  endif()
  # Debian puts asm/ headers under the multiarch dir; the BPF target does not know it.
  set(multiarch_include /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPFTAPE_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${target_arch}
            -I${BPFTAPE_VMLINUX_DIR} -I${PROJECT_SOURCE_DIR} -I${multiarch_include}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_SOURCE} -o ${obj}
    DEPENDS ${ARG_SOURCE} ${ARG_DEPENDS} ${BPFTAPE_VMLINUX_DIR}/vmlinux.h
    COMMENT "BPF ${ARG_SOURCE} -> ${name}.bpf.o"
    VERBATIM)
  # bpftool writes to stdout; go through a temp file so a failed run leaves no empty header.
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTAPE_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "bpftool gen skeleton ${name}.bpf.o -> ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel DEPENDS ${skel} ${obj})
endfunction()
