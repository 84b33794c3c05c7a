# SPDX-License-Identifier: Apache-2.0
# Install the page's browser libraries (console/package.json, versions pinned
# by console/package-lock.json: uPlot) into the build directory with npm ci,
# so that embed.cmake can compile them into kura-console. Nothing of them is
# kept in git.
#   cmake -DNPM=npm -DSRC=console -DDIR=build/console/npm -DSTAMP=file -P npm.cmake
file(MAKE_DIRECTORY ${DIR})
configure_file(${SRC}/package.json ${DIR}/package.json COPYONLY)
configure_file(${SRC}/package-lock.json ${DIR}/package-lock.json COPYONLY)
execute_process(COMMAND ${NPM} ci --prefer-offline --no-audit --no-fund --ignore-scripts
  WORKING_DIRECTORY ${DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "kura-console: `npm ci` could not install uPlot (console/package-lock.json) "
    "into ${DIR}:\n${out}\nThe npm registry must be reachable at the first build; npm's cache "
    "(~/.npm) serves the later ones offline.")
endif()
foreach(f uPlot.iife.min.js uPlot.min.css)
  if(NOT EXISTS ${DIR}/node_modules/uplot/dist/${f})
    message(FATAL_ERROR "kura-console: npm ci left no node_modules/uplot/dist/${f} in ${DIR}")
  endif()
endforeach()
file(TOUCH ${STAMP})
