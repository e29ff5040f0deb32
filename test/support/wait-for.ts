// The one way tests wait for a condition (shared with the demos through peers/harness/).
export { waitFor } from '../../peers/harness/wait-for.js';
