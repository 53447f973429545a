# cmake -DDIR=<reports source dir> -P no_libtorch.cmake: fails when a file of reports/ includes a
# LibTorch (ATen, c10, torch) or HDF5 header.
file(GLOB_RECURSE files ${DIR}/src/* ${DIR}/include/*)
foreach(f IN LISTS files)
  file(STRINGS ${f} hits REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](ATen|c10|torch|caffe2|hdf5|H5)")
  if(hits)
    message(FATAL_ERROR "${f}: ${hits}\nreports reads run directories only and links only vlb_core: "
                        "no LibTorch or HDF5 header belongs here.")
  endif()
endforeach()
