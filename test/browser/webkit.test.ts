/** The shared browser scenarios (./scenarios.ts), on WebKit. */
import { webkit } from './engines/webkit.ts';
import { runScenarios } from './scenarios.ts';

runScenarios(webkit);
