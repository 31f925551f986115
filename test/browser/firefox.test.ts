/** The shared browser scenarios (./scenarios.ts), on Firefox. */
import { firefox } from './engines/firefox.ts';
import { runScenarios } from './scenarios.ts';

runScenarios(firefox);
