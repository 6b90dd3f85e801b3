'use strict';
// The addon built by `npm ci` (node-gyp, from binding.gyp); see src/icmp_socket.c. ZENSWEEP_ICMP_ADDON, when set,
// names another build of it to load instead: the AddressSanitizer build of scripts/sanitize-addon.sh.
const override = process.env.ZENSWEEP_ICMP_ADDON;
module.exports = require(override ? require('node:path').resolve(override) : './build/Release/icmp_socket.node');
