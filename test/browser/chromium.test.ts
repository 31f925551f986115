/** The shared browser scenarios (./scenarios.ts), on Chromium. */
import { chromium } from './engines/chromium.ts';
import { runScenarios } from './scenarios.ts';

runScenarios(chromium);
