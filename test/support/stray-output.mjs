// Loaded into a service with NODE_OPTIONS=--import: a library that misbehaves while the service runs. On SIGUSR2 it
// raises a process warning, prints through `console` (an error with its stack, text on several lines), and leaves a
// rejected promise that nobody catches, as careless library code does; what the service makes of it is the test.
process.on('SIGUSR2', () => {
  process.emitWarning('a library does something deprecated', 'DeprecationWarning', 'DEP0999');
  console.error(new Error('a library prints an error'));
  console.log('a library prints\ntwo lines');
  setTimeout(() => void Promise.reject(new Error('nobody catches this')), 200);
});
