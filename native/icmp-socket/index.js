'use strict';
// The addon built by `npm ci` (node-gyp, from binding.gyp); see src/icmp_socket.c.
module.exports = require('./build/Release/icmp_socket.node');
