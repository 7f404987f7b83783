/**
 * Unit tests of the pure helpers and the service models (src/__tests__); UI behaviour is covered
 * by the browser tests in tests/ui. JupyterLab's packages ship ES modules: ts-jest compiles them
 * (and yjs & co.) to CommonJS too.
 */
const esm = ['@jupyterlab', '@jupyter', 'lib0', 'y-protocols', 'yjs'];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
    '^.+\\.jsx?$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs' } }
    ]
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esm.join('|')})/)`]
};
